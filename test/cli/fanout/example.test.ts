import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);
import { runJson } from '../models/helpers.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/best-of-three/', import.meta.url));

/** The example's committed files in a fresh git repository, without what a run writes. */
function clone(): string {
  const dir = path.join(tempWorkspace('factory-example-'), 'best-of-three');
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|slug\.js|table\.js|diacritics\.js)$/.test(src) });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir, stdio: 'pipe' }).toString();
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'example');
  return dir;
}

describe('examples/best-of-three', () => {
  test('runs offline: three isolated approaches, the best picked and applied, the others never in the workspace', async () => {
    const dir = clone();
    const env = { ...process.env, ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };
    const r = await cli(['apply', '.'], dir, env);
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out).toContain('attempt[2] approach=table-driven');
    expect(out).toContain('picked attempt[2]');
    const record = runJson(dir);
    expect(record.stages.attempt).toMatchObject({ status: 'succeeded', outputs: { picked: 2, converged: true } });
    expect(record.stages['attempt[1]']).toMatchObject({ status: 'failed', reason: 'not_converged' });
    expect(record.stages['attempt[3]']!.outputs).toMatchObject({ converged: true });
    expect(readFileSync(path.join(dir, 'slug.js'), 'utf8')).toContain("import { PLAIN } from './table.js';");
    expect(existsSync(path.join(dir, 'table.js'))).toBe(true);
    expect(existsSync(path.join(dir, 'diacritics.js'))).toBe(false);
    expect(readdirSync(path.join(dir, '.factory', 'work'))).toEqual([]);
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: dir }).toString()).toBe('');
  });
});
