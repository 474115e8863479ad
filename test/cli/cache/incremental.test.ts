import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, hasToolResult, runJson, workspace } from '../models/helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

/**
 * The stage cache through the built CLI (docs/cache-and-watch.md): fingerprints recorded, succeeded
 * results reused with their file changes, `plan` saying what will run and why — against the
 * fake Messages API, whose request log proves a cached run calls nothing.
 */
beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const PIPELINE = `version: 1
name: incremental
defaults:
  model: claude-sonnet-5-5
  max_tokens: 1024
stages:
  plan:
    kind: plan
    prompt: Write a one-line plan for a greeting module.
    context: [SPEC.md]
  generate:
    kind: generate
    needs: [plan]
    prompt: "Implement this plan: \${{ stages.plan.outputs.text }}"
    context: [SPEC.md]
    writes: ["src/**"]
  test:
    kind: command
    needs: [generate]
    run: cat src/hello.js > build.txt
    inputs: ["src/**"]
  review:
    kind: review
    needs: [test]
    rubric: Matches the spec.
  lint:
    kind: command
    run: echo lint
`;

const FILES = { 'SPEC.md': '# Greeting\nExport hello() returning "hello".\n' };

function script(content = 'export const hello = () => "hello";\n'): void {
  api.script([
    { match: { tool: 'submit_review' }, reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [], summary: 'Good.' } }], { input_tokens: 900, output_tokens: 60 }) },
    { match: (r) => hasToolResult(r), reply: textMessage('Wrote src/hello.js.', { input_tokens: 1200, output_tokens: 20 }) },
    { match: { tool: 'write_file' }, reply: toolUseMessage([{ name: 'write_file', input: { path: 'src/hello.js', content } }], { input_tokens: 1000, output_tokens: 80 }) },
    { match: { contains: 'one-line plan' }, reply: textMessage('Add src/hello.js exporting hello().', { input_tokens: 300, output_tokens: 12 }) },
  ]);
}

type Event = Record<string, unknown> & { type: string };
const events = (stdout: string): Event[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
const started = (stdout: string) => events(stdout).filter((e) => e.type === 'stage_started').map((e) => e.stage as string).sort();
const finished = (stdout: string) => Object.fromEntries(events(stdout).filter((e) => e.type === 'stage_finished').map((e) => [e.stage as string, e]));

async function apply(dir: string, ...flags: string[]) {
  const r = await cli(['apply', '--json', ...flags], dir, apiEnv(api.url));
  expect(r.stderr).not.toContain('    at ');
  return r;
}

describe('the stage cache', () => {
  test('a second apply is all cached: zero requests to the model server, usage and cost 0, outputs restored, fingerprints recorded', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    const first = await apply(dir);
    expect(first.code, first.stderr).toBe(0);
    expect(api.requests.length).toBeGreaterThan(0);
    const one = runJson(dir);
    for (const s of ['plan', 'generate', 'test', 'review']) expect(one.stages[s]!.fingerprint, s).toMatch(/^[0-9a-f]{64}$/);
    // A command without inputs is never cached and feeds nothing cached: no fingerprint to keep.
    expect(one.stages.lint!.fingerprint).toBeNull();

    const before = api.requests.length;
    const second = await apply(dir);
    expect(second.code, second.stderr).toBe(0);
    expect(api.requests.length).toBe(before);
    // Only the command without inputs runs again.
    expect(started(second.stdout)).toEqual(['lint']);
    const done = finished(second.stdout);
    for (const s of ['plan', 'generate', 'test', 'review']) {
      expect(done[s], s).toMatchObject({ status: 'succeeded', cached: true, cost_usd: 0, usage: { input_tokens: 0, output_tokens: 0 } });
    }
    expect(done.lint).toMatchObject({ cached: false });
    const two = runJson(dir);
    expect(two.usage.input_tokens).toBe(0);
    expect(two.cost_usd).toBe(0);
    for (const s of ['plan', 'generate', 'test', 'review']) {
      expect(two.stages[s], s).toMatchObject({ status: 'succeeded', cached: true, fingerprint: one.stages[s]!.fingerprint, outputs: one.stages[s]!.outputs });
      expect(two.stages[s]!.message, s).toContain(`reused the result of run ${one.id}`);
    }
    expect(two.stages.lint).toMatchObject({ cached: false });
  });

  test('changing one input reruns exactly that stage and what depends on it', async () => {
    const dir = workspace(`version: 1
name: diamond
stages:
  a: { kind: command, run: cat a.txt, inputs: [a.txt] }
  b: { kind: command, needs: [a], run: echo b, inputs: [] }
  c: { kind: command, run: cat c.txt, inputs: [c.txt] }
  d: { kind: command, needs: [c], run: echo d, inputs: [] }
  e: { kind: command, needs: [b, d], run: echo e, inputs: [] }
`, { 'a.txt': 'a\n', 'c.txt': 'c\n' });
    expect((await apply(dir)).code).toBe(0);
    const again = await apply(dir);
    expect(started(again.stdout)).toEqual([]);
    writeFileSync(path.join(dir, 'c.txt'), 'c changed\n');
    const changed = await apply(dir);
    expect(changed.code, changed.stderr).toBe(0);
    expect(started(changed.stdout)).toEqual(['c', 'd', 'e']);
    expect(finished(changed.stdout).a).toMatchObject({ cached: true });
    // Touching a file without changing it keeps the cache (content, not mtime).
    writeFileSync(path.join(dir, 'a.txt'), 'a\n');
    expect(started((await apply(dir)).stdout)).toEqual([]);
  });

  test('a generate hit re-applies its file changes; a file edited since makes it run again rather than overwrite the edit', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    expect((await apply(dir)).code).toBe(0);
    const file = path.join(dir, 'src', 'hello.js');
    expect(readFileSync(file, 'utf8')).toContain('hello');

    rmSync(file);
    const before = api.requests.length;
    const restored = await apply(dir);
    expect(restored.code, restored.stderr).toBe(0);
    expect(api.requests.length).toBe(before);
    expect(finished(restored.stdout).generate).toMatchObject({ cached: true, message: expect.stringContaining('its changes to 1 file re-applied') });
    expect(readFileSync(file, 'utf8')).toBe('export const hello = () => "hello";\n');

    writeFileSync(file, '// my own edit\n');
    const plan = await cli(['plan'], dir, apiEnv(api.url));
    expect(plan.stdout).toMatch(/generate .*will run: src\/hello\.js was edited since the cached run changed it/);
    const rerun = await apply(dir);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(started(rerun.stdout)).toContain('generate');
    expect(finished(rerun.stdout).plan).toMatchObject({ cached: true });
    expect(api.requests.length).toBeGreaterThan(before);
  });

  test('--no-cache runs every stage, and stores results for the next apply', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    expect((await apply(dir)).code).toBe(0);
    const before = api.requests.length;
    const all = await apply(dir, '--no-cache');
    expect(all.code, all.stderr).toBe(0);
    expect(started(all.stdout)).toEqual(['generate', 'lint', 'plan', 'review', 'test']);
    expect(api.requests.length).toBeGreaterThan(before);
    const after = api.requests.length;
    expect(started((await apply(dir)).stdout)).toEqual(['lint']);
    expect(api.requests.length).toBe(after);
  });

  test('plan marks each stage cached or will run, and says why, without calling a model', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    const fresh = await cli(['plan', '--format', 'json'], dir, apiEnv(api.url));
    const cacheOf = (stdout: string) => Object.fromEntries((JSON.parse(stdout) as { stages: { path: string; cache: { status: string; reason: string } }[] }).stages.map((s) => [s.path, s.cache]));
    expect(cacheOf(fresh.stdout)).toMatchObject({
      plan: { status: 'will run', reason: 'no earlier result' },
      generate: { status: 'will run', reason: 'upstream plan will run' },
      lint: { status: 'will run', reason: 'no inputs declared' },
    });
    expect((await apply(dir)).code).toBe(0);
    const before = api.requests.length;
    const warm = await cli(['plan'], dir, apiEnv(api.url));
    expect(warm.code, warm.stderr).toBe(0);
    expect(warm.stdout).toMatch(/\bplan\b.*\bcached\n/);
    expect(warm.stdout).toMatch(/\breview\b.*\bcached\n/);
    expect(warm.stdout).toMatch(/\blint\b.*will run: no inputs declared/);

    writeFileSync(path.join(dir, 'SPEC.md'), '# Greeting\nExport hello() returning "hi".\n');
    const edited = cacheOf((await cli(['plan', '--format', 'json'], dir, apiEnv(api.url))).stdout);
    expect(edited).toMatchObject({
      plan: { status: 'will run', reason: 'SPEC.md changed' },
      generate: { status: 'will run', reason: 'upstream plan will run' },
      test: { status: 'will run', reason: 'upstream generate will run' },
    });
    expect(api.requests.length).toBe(before);
  });

  test('a review after a command without inputs is reported as depending on run-time values', async () => {
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  build: { kind: command, run: echo built }
  check: { kind: review, needs: [build], rubric: fine }
`);
    const r = await cli(['plan', '--format', 'json'], dir, apiEnv(api.url));
    const check = (JSON.parse(r.stdout) as { stages: { path: string; cache: { status: string; reason: string } }[] }).stages.find((s) => s.path === 'check')!;
    expect(check.cache).toMatchObject({ status: 'unknown', reason: expect.stringContaining('depends on run-time values') });
  });

  test('a cache entry truncated on disk is ignored and rebuilt, never trusted', async () => {
    const dir = workspace(`version: 1
stages:
  a: { kind: command, run: echo a > a.out, inputs: [] }
  b: { kind: command, run: echo b, inputs: [] }
`);
    expect((await apply(dir)).code).toBe(0);
    const entries = path.join(dir, '.factory', 'cache', 'stages');
    const fpA = runJson(dir).stages.a!.fingerprint!;
    truncateSync(path.join(entries, `${fpA}.json`), 40);
    const plan = await cli(['plan'], dir);
    expect(plan.stdout).toMatch(/\ba\b.*will run: no earlier result \(its cache entry is gone or damaged\)/);
    const r = await apply(dir);
    expect(r.code, r.stderr).toBe(0);
    expect(started(r.stdout)).toEqual(['a']);
    expect(JSON.parse(readFileSync(path.join(entries, `${fpA}.json`), 'utf8'))).toMatchObject({ fingerprint: fpA, stage: 'a' });
    expect(started((await apply(dir)).stdout)).toEqual([]);
    // `factory clean` removes the cache.
    expect((await cli(['clean'], dir)).code).toBe(0);
    expect(existsSync(entries)).toBe(false);
    expect(started((await apply(dir)).stdout)).toEqual(['a', 'b']);
  });

  test('two stages with the same definition and the same output file keep separate entries; the later writer wins', async () => {
    const dir = workspace(`version: 1
stages:
  one: { kind: command, run: echo same > out.txt, inputs: [], writes: [out.txt] }
  two: { kind: command, needs: [one], run: echo same > out.txt, inputs: [], writes: [out.txt] }
  three: { kind: command, needs: [two], run: echo other > shared.txt, inputs: [], writes: [shared.txt] }
  four: { kind: command, needs: [three], run: echo last > shared.txt, inputs: [], writes: [shared.txt] }
`);
    expect((await apply(dir)).code).toBe(0);
    const rec = runJson(dir);
    expect(rec.stages.one!.fingerprint).not.toBe(rec.stages.two!.fingerprint);
    expect(readdirSync(path.join(dir, '.factory', 'cache', 'stages'))).toHaveLength(4);
    // The earlier writer finds its file changed since (by the later one) and runs again; the
    // later one's change is re-applied over it. Its new entry starts from the later content, so
    // from then on both come from the cache.
    expect(started((await apply(dir)).stdout)).toEqual(['three']);
    expect(readFileSync(path.join(dir, 'shared.txt'), 'utf8')).toBe('last\n');
    // The file both wrote is restored from the first writer's entry; the second finds it as it left it.
    rmSync(path.join(dir, 'out.txt'));
    const restored = await apply(dir);
    expect(started(restored.stdout)).toEqual([]);
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('same\n');
    expect(readFileSync(path.join(dir, 'shared.txt'), 'utf8')).toBe('last\n');
  });
});
