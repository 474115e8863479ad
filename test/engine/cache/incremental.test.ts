import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { StageCache } from '../../../src/engine/cache/cache.js';
import { explainMiss } from '../../../src/engine/explain.js';
import type { FingerprintParts } from '../../../src/engine/cache/fingerprint.js';
import { hashText } from '../../../src/engine/cache/fingerprint.js';
import { fileChanges } from '../../../src/engine/cache/run-cache.js';
import { WorkspaceTracker } from '../../../src/workspace/tracker.js';
import { buildPipeline, tempWorkspace } from '../../support/pipeline-builder.js';
import { run } from '../../support/run-helpers.js';
import { runInProcess } from '../../support/cli.js';

/** The cache and the snapshots inside the engine (runPipeline in-process, real commands and files). */
const cmd = (runText: string, extra: Record<string, unknown> = {}) => ({ kind: 'command', run: runText, retries: 0, inputs: [], ...extra });
const ran = (r: Awaited<ReturnType<typeof run>>) => r.events.of('stage_started').map((e) => e.stage).sort();
const entryOf = (dir: string, fp: string) => new StageCache(dir).get(fp)!;

describe('cache inside the engine', () => {
  test('stages running at the same time each own the files their `writes` declare, and only those', async () => {
    const dir = tempWorkspace();
    const pipeline = buildPipeline(dir, {
      concurrency: 2,
      stages: {
        one: cmd('echo one > one.txt; sleep 0.3', { writes: ['one.txt'] }),
        two: cmd('sleep 0.1; echo two > two.txt', { writes: ['two.txt'] }),
      },
    });
    const first = await run(pipeline);
    expect(first.summary.exit_code).toBe(0);
    const one = entryOf(dir, first.stage('one').fingerprint!);
    const two = entryOf(dir, first.stage('two').fingerprint!);
    // two.txt changed while `one` ran too: its entry keeps it (shared, for a review's diff), but
    // `one` declares only one.txt, so two.txt is not its output.
    expect(one.changes.find((c) => c.path === 'one.txt')).toBeDefined();
    expect(one.changes.find((c) => c.path === 'two.txt')).toMatchObject({ shared: true });
    expect(two.changes.map((c) => c.path)).toContain('two.txt');

    rmSync(path.join(dir, 'one.txt'));
    rmSync(path.join(dir, 'two.txt'));
    const second = await run(pipeline);
    expect(ran(second)).toEqual([]);
    expect(readFileSync(path.join(dir, 'one.txt'), 'utf8')).toBe('one\n');
    expect(readFileSync(path.join(dir, 'two.txt'), 'utf8')).toBe('two\n');
    // A declared file edited since makes its stage run again, and only that one.
    writeFileSync(path.join(dir, 'two.txt'), 'mine\n');
    expect(ran(await run(pipeline))).toEqual(['two']);
    expect(readFileSync(path.join(dir, 'two.txt'), 'utf8')).toBe('two\n');
  });

  test('a converged loop is cached as a whole, its body\'s file changes re-applied; one that did not converge is not', async () => {
    const dir = tempWorkspace();
    const loop = (until: string) => ({
      kind: 'loop',
      max_iterations: 2,
      until,
      stages: { write: { kind: 'command', run: 'echo "$(cat seed.txt) built" > out.txt', retries: 0 } },
    });
    writeFileSync(path.join(dir, 'seed.txt'), 'v1');
    const converging = buildPipeline(dir, { stages: { build: { ...loop('${{ stages.write.status == \'succeeded\' }}'), inputs: ['seed.txt'] } } });
    const first = await run(converging);
    expect(first.stage('build')).toMatchObject({ status: 'succeeded', cached: false });
    rmSync(path.join(dir, 'out.txt'));
    const second = await run(converging);
    expect(second.stage('build')).toMatchObject({ status: 'succeeded', cached: true, outputs: { converged: true, iterations: 1 } });
    expect(ran(second)).toEqual([]);
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('v1 built\n');
    // A file a body stage reads by `inputs` of the loop changes its fingerprint.
    writeFileSync(path.join(dir, 'seed.txt'), 'v2');
    expect(ran(await run(converging))).toEqual(['build', 'build.write']);

    const never = buildPipeline(dir, { stages: { build: loop('${{ false }}') } });
    const a = await run(never);
    expect(a.stage('build')).toMatchObject({ status: 'failed', reason: 'not_converged' });
    expect(ran(await run(never))).toContain('build.write');
  });

  test('--no-cache (noCache) runs everything; a touched file with the same content keeps the cache', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'in.txt'), 'x');
    const pipeline = buildPipeline(dir, { stages: { a: cmd('cat in.txt', { inputs: ['in.txt'] }) } });
    await run(pipeline);
    expect(ran(await run(pipeline, { noCache: true }))).toEqual(['a']);
    utimesSync(path.join(dir, 'in.txt'), new Date(), new Date(Date.now() + 10_000));
    expect(ran(await run(pipeline))).toEqual([]);
  });

  test('a stage inside a loop has no fingerprint of its own; a failed stage is never stored', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        bad: cmd('exit 3'),
        l: { kind: 'loop', max_iterations: 1, stages: { x: { kind: 'command', run: 'true', retries: 0 } } },
      },
    }));
    expect(r.stage('bad').fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(new StageCache(dir).get(r.stage('bad').fingerprint!)).toBeUndefined();
    expect(r.record.stages.l!.iterations![0]!.stages['l.x']!.fingerprint).toBeNull();
  });
});

describe('the workspace tracker', () => {
  test('snapshots only when a difference is wanted: a pipeline of commands without inputs takes none', () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'a.txt'), 'a');
    const tracker = new WorkspaceTracker(dir);
    tracker.begin('s', 's', { changes: false, writer: true });
    writeFileSync(path.join(dir, 'b.txt'), 'b');
    expect(tracker.end('s')).toBeUndefined();
    tracker.begin('t', 't', { changes: true, writer: true });
    writeFileSync(path.join(dir, 'c.txt'), 'c');
    rmSync(path.join(dir, 'a.txt'));
    expect(tracker.end('t')!.map((c) => [c.path, c.before?.hash !== undefined, c.after?.hash !== undefined])).toEqual([
      ['a.txt', true, false],
      ['c.txt', false, true],
    ]);
  });

  test('in watch mode every stage that may write reports what it changed', () => {
    const dir = tempWorkspace();
    const written: unknown[] = [];
    const tracker = new WorkspaceTracker(dir, { eager: true, hooks: { writerEnded: (key, files) => written.push([key, files.map((f) => f.path)]) } });
    tracker.begin('cmd', 'cmd', { changes: false, writer: true });
    writeFileSync(path.join(dir, 'out.txt'), 'o');
    tracker.end('cmd');
    expect(written).toEqual([['cmd', ['out.txt']]]);
    expect(existsSync(path.join(dir, 'out.txt'))).toBe(true);
  });

  test('in watch mode a write first seen by another stage\'s starting snapshot is still reported as the run\'s own', () => {
    const dir = tempWorkspace();
    const written: unknown[] = [];
    const tracker = new WorkspaceTracker(dir, { eager: true, hooks: { writerEnded: (key, files) => written.push([key, files.map((f) => f.path)]) } });
    tracker.begin('stamp', 'stamp', { changes: false, writer: true });
    writeFileSync(path.join(dir, 'stamp.txt'), '1');
    // A cached stage starts while `stamp` runs: its base snapshot is the first to see stamp.txt.
    tracker.begin('b', 'b', { changes: true, writer: true });
    tracker.end('stamp');
    tracker.end('b');
    expect(written).toEqual([['stamp', ['stamp.txt']], ['b', []]]);
  });
});

describe('the file changes a cached stage keeps', () => {
  test('a file that moved on since the snapshot: left out when another writer was running (shared), else nothing is cached', () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'mine.txt'), 'mine');
    writeFileSync(path.join(dir, 'stamp.txt'), 'written after the snapshot');
    const seen = (text: string) => ({ size: text.length, mtimeMs: 0, hash: hashText(Buffer.from(text)), binary: false });
    const mine = { path: 'mine.txt', before: undefined, after: seen('mine') };
    // The snapshot caught stamp.txt truncated, between another stage's open and its write.
    const stamp = { path: 'stamp.txt', before: undefined, after: seen('') };
    expect(fileChanges(dir, [mine, { ...stamp, shared: true }])!.map((c) => c.path)).toEqual(['mine.txt']);
    expect(fileChanges(dir, [mine, stamp])).toBeUndefined();
  });
});

describe('plan reasons', () => {
  const base: FingerprintParts = { kind: 'command', definition: { path: 'a', stage: { run: 'x' }, rendered: null }, files: [{ path: 'a.txt', hash: '1' }], needs: { up: 'f1:succeeded' } };
  test('name the file, the upstream, the definition or the model that changed', () => {
    expect(explainMiss({ ...base, files: [{ path: 'a.txt', hash: '2' }, { path: 'b.txt', hash: '3' }] }, base)).toBe('a.txt changed, b.txt added');
    expect(explainMiss({ ...base, files: [] }, base)).toBe('a.txt removed');
    expect(explainMiss({ ...base, needs: { up: 'f2:succeeded' } }, base, (id) => `scope.${id}`)).toBe('upstream scope.up changed');
    expect(explainMiss({ ...base, definition: { path: 'a', stage: { run: 'y' }, rendered: null } }, base)).toBe('its definition changed');
    expect(explainMiss({ ...base, model: 'b' }, { ...base, model: 'a' })).toBe('the model changed (a → b)');
    expect(explainMiss(base, undefined)).toBe('no earlier result');
  });
});

describe('validate', () => {
  test('an inputs glob that matches nothing is a warning naming the stage', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  build:\n    kind: command\n    run: make\n    inputs: ["src/**/*.c", "Makefile"]\n');
    writeFileSync(path.join(dir, 'Makefile'), 'all:\n');
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('factory.yaml:6:14 warning  the inputs glob "src/**/*.c" of stage "build" matches no file');
    expect(r.stderr).not.toContain('glob "Makefile"');
  });
});
