import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
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
});
