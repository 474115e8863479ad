import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { runBuilt } from '../support/cli.js';

function workspace(): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-clean-')));
  writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  hello:\n    kind: command\n    run: ["true"]\n');
  return dir;
}

describe('factory clean', () => {
  test('removes the cache and all runs but the last N', () => {
    const dir = workspace();
    for (let i = 0; i < 3; i++) expect(runBuilt(['apply', '--quiet'], dir).code).toBe(0);
    mkdirSync(path.join(dir, '.factory', 'cache', 'stages'), { recursive: true });
    writeFileSync(path.join(dir, '.factory', 'cache', 'stages', 'x.json'), '{}');
    const runs = readdirSync(path.join(dir, '.factory', 'runs')).sort();
    const r = runBuilt(['clean', '--keep', '1'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('removed the cache and 2 runs; kept 1');
    expect(readdirSync(path.join(dir, '.factory', 'runs'))).toEqual([runs[2]]);
    expect(existsSync(path.join(dir, '.factory', 'cache', 'stages'))).toBe(false);
    expect(runBuilt(['clean'], dir).stdout).toContain('removed the cache and 1 run; kept 0');
  });

  test('refuses a bad --keep and a workspace that does not exist', () => {
    const dir = workspace();
    const bad = runBuilt(['clean', '--keep', '-1'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--keep');
    expect(runBuilt(['clean', path.join(dir, 'nowhere')], dir).code).toBe(2);
  });

  test('refuses while a run of the same workspace holds the lock', () => {
    const dir = workspace();
    mkdirSync(path.join(dir, '.factory'), { recursive: true });
    // A live process (this test's own) holding the lock.
    writeFileSync(path.join(dir, '.factory', 'lock'), JSON.stringify({ pid: process.pid, run: 'r-running', host: 'here', started_at: new Date().toISOString() }));
    cpSync(path.join(dir, 'factory.yaml'), path.join(dir, 'copy.yaml'));
    const r = runBuilt(['clean'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run r-running is running');
  });

  describe('a .factory it cannot change', () => {
    const undo: (() => void)[] = [];
    afterEach(() => {
      for (const f of undo.splice(0)) f();
    });

    /** Makes `dir` unchangeable even for root (chattr +i), or returns false when this system cannot. */
    function makeReadOnly(dir: string): boolean {
      if (process.getuid?.() !== 0) {
        chmodSync(dir, 0o555);
        undo.push(() => chmodSync(dir, 0o755));
        return true;
      }
      try {
        execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
        undo.push(() => execFileSync('chattr', ['-i', dir], { stdio: 'ignore' }));
        return true;
      } catch {
        return false;
      }
    }

    test('a run folder that cannot be removed: exit 1, a message naming the path and the fix, no internal error', () => {
      const dir = workspace();
      expect(runBuilt(['apply', '--quiet'], dir).code).toBe(0);
      const run = readdirSync(path.join(dir, '.factory', 'runs'))[0]!;
      expect(makeReadOnly(path.join(dir, '.factory', 'runs')), 'cannot make a folder read-only here').toBe(true);
      const r = runBuilt(['clean'], dir);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^factory clean: cannot remove \\.factory/runs/${run.replace(/\./g, '\\.')}: (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\)) \\(removed the cache before that\\); make \\.factory writable and run clean again\n$`));
      expect(r.stderr).not.toContain('internal error');
    });

    test('a cache that cannot be removed: exit 1, naming the cache folder', () => {
      const dir = workspace();
      mkdirSync(path.join(dir, '.factory', 'cache', 'stages'), { recursive: true });
      writeFileSync(path.join(dir, '.factory', 'cache', 'stages', 'x.json'), '{}');
      expect(makeReadOnly(path.join(dir, '.factory', 'cache', 'stages')), 'cannot make a folder read-only here').toBe(true);
      const r = runBuilt(['clean'], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('factory clean: cannot remove .factory/cache/stages');
      expect(r.stderr).toContain('make .factory writable and run clean again');
    });
  });
});
