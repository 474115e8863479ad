import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { runJson } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../../examples/roman-numerals/', import.meta.url));

/** The example's committed files in a fresh git repository (as in a clean clone), without its run artefacts. */
function clone(): string {
  const dir = path.join(tempWorkspace('factory-example-'), 'roman-numerals');
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|roman\.js)$/.test(src) });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir, stdio: 'pipe' }).toString();
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'example');
  return dir;
}

describe('examples/roman-numerals', () => {
  test('runs offline with no key: iteration 1 fails a scenario, the feedback reaches iteration 2, the loop converges; twice; git status stays clean', async () => {
    const dir = clone();
    const env = { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };
    const first = await cli(['apply', '.'], dir, env);
    const out = first.stdout + first.stderr;
    expect(first.code, out).toBe(0);
    expect(out).toContain('iteration 2/3');
    expect(out).toContain('build (2 iterations)');
    expect(out).toContain('satisfaction 1.00');
    expect(out).toMatch(/run succeeded · exit 0 · .* · [\d.]+k tokens · \$0\.0\d+/);

    const record = runJson(dir);
    const its = record.stages.build!.iterations!;
    expect(its.map((i) => i.stages['build.validate']!.status)).toEqual(['failed', 'succeeded']);
    expect(its[0]!.stages['build.validate']!.outputs.results).toEqual([expect.objectContaining({ name: 'rejects bad input', failures: [] })]);
    const runDir = path.join(dir, '.factory', 'runs', record.id, 'stages');
    expect(readFileSync(path.join(runDir, 'build.generate@1.prompt.md'), 'utf8')).not.toContain('rejects bad input');
    expect(readFileSync(path.join(runDir, 'build.generate@2.prompt.md'), 'utf8')).toContain('rejects bad input: Zero, negative, too large and non-numeric input are refused');
    // nothing but the judge ever saw a scenario's steps
    for (const name of readdirSync(runDir).filter((n) => n.endsWith('.prompt.md') || n.endsWith('.transcript.jsonl'))) {
      if (name.startsWith('build.validate')) continue;
      expect(readFileSync(path.join(runDir, name), 'utf8'), name).not.toContain('node roman.js 4000');
    }

    const second = await cli(['apply', '.'], dir, env);
    expect(second.code, second.stderr).toBe(0);
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: dir }).toString()).toBe('');
  });
});
