import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterEach, describe, expect, test } from 'vitest';
import { runPipeline } from '../../src/engine/run.js';
import { writeFileAtomic } from '../../src/records/atomic.js';
import { acquireLock } from '../../src/records/lock.js';
import { lockFile } from '../../src/records/paths.js';
import { latestRunId, listRuns, loadRun } from '../../src/records/read.js';
import { checkRunId, newRunId } from '../../src/records/run-id.js';
import { buildPipeline, collectEvents, tempWorkspace } from '../support/pipeline-builder.js';
import { run, TEST_ENV } from '../support/run-helpers.js';
import { stageExecutors } from '../../src/stages/registry.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/run.schema.json', import.meta.url), 'utf8'));
const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });

describe('run records', () => {
  test('run.json of a real run matches schemas/run.schema.json, with every status and reason', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        ok: cmd('echo hi', { parse: 'text' }),
        bad: cmd('exit 1', { needs: ['ok'] }),
        skip: cmd('true', { needs: ['bad'] }),
        err: cmd(['./missing']),
        json: cmd('echo \'{"a":[1]}\'', { parse: 'json' }),
      },
    }));
    const ajv = new Ajv2020.default({ allErrors: true, strict: true });
    const validate = ajv.compile(schema);
    expect(validate(r.record), JSON.stringify(validate.errors)).toBe(true);
    expect(r.record).toMatchObject({ version: 1, id: r.summary.run, status: 'error', exit_code: 1 });
    expect(Object.keys(r.record.stages)).toEqual(['ok', 'bad', 'skip', 'err', 'json']);
    // The journal holds the same state: run.json is derived from it, and readers fold it the same way.
    const journal = readdirSync(path.join(r.summary.record, 'journal'));
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatch(/^apply-.*\.ndjson$/);
    const loaded = loadRun(dir, r.summary.run);
    expect(loaded.ok && loaded.record).toEqual(JSON.parse(readFileSync(path.join(r.summary.record, 'run.json'), 'utf8')));
    // One file per stage only for what a stage printed: no record file per stage, none for a stage that printed nothing.
    expect(readdirSync(path.join(r.summary.record, 'stages')).sort()).toEqual(['json.stdout', 'ok.stdout']);
    // Atomic writes leave no temporary files behind.
    expect(readdirSync(r.summary.record).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('run ids sort by start time and are checked', () => {
    const a = newRunId(new Date('2026-11-26T13:15:00.123Z'));
    const b = newRunId(new Date('2026-11-26T13:15:01Z'));
    expect(a).toMatch(/^20261126T131500\.123Z-[0-9a-f]{4}$/);
    expect(a < b).toBe(true);
    expect(checkRunId(a)).toBeUndefined();
    expect(checkRunId('ci-42.1')).toBeUndefined();
    for (const bad of ['', '../up', 'a/b', '-x', 'a b']) expect(checkRunId(bad)).toContain('not a valid run id');
  });

  test('readers derive a run from its stage files when run.json lags behind (a killed run, merged records)', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { a: cmd('true') } }));
    // A stage file written by another machine for a stage run.json does not know yet.
    writeFileSync(path.join(r.summary.record, 'stages', 'remote.json'), JSON.stringify({ ...r.record.stages.a, version: 1, path: 'remote', kind: 'command', status: 'failed' }));
    const loaded = loadRun(dir, r.summary.run);
    expect(loaded.ok && loaded.record.stages.remote?.status).toBe('failed');
    expect(latestRunId(dir)).toBe(r.summary.run);
    expect(listRuns(dir).map((x) => x.id)).toEqual([r.summary.run]);
  });

  test('atomic writes report failures as values', () => {
    const dir = tempWorkspace();
    expect(writeFileAtomic(path.join(dir, 'x.json'), '{}')).toEqual({ ok: true });
    const failed = writeFileAtomic(path.join(dir, 'missing-dir', 'x.json'), '{}');
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.error).toContain('no such file or directory');
  });
});

describe('the workspace lock', () => {
  test('a second apply is refused with a message naming the running run; release frees it', () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, '.factory'));
    const first = acquireLock(dir, 'run-one');
    expect(first.ok).toBe(true);
    const second = acquireLock(dir, 'run-two');
    expect(second.ok).toBe(false);
    expect(!second.ok && second.message).toContain('another apply is running in this directory: run run-one');
    if (first.ok) first.release();
    const third = acquireLock(dir, 'run-three');
    expect(third.ok).toBe(true);
    if (third.ok) third.release();
  });

  test('a lock left by a dead process is taken over', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, '.factory'));
    const dead = spawnSync('true').pid!;
    writeFileSync(lockFile(dir), JSON.stringify({ pid: dead, run: 'old', host: hostname(), started_at: new Date().toISOString() }));
    const r = await run(buildPipeline(dir, { stages: { a: cmd('true') } }));
    expect(r.summary.exit_code).toBe(0);
  });

  test('apply refuses while the lock is held (exit 2)', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, '.factory'));
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.pid, run: 'busy-run', host: hostname(), started_at: new Date().toISOString() }));
    const result = await runPipeline(buildPipeline(dir, { stages: { a: cmd('true') } }), { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV });
    expect(result).toMatchObject({ ok: false, exitCode: 2 });
    expect(!result.ok && result.message).toContain('run busy-run');
  });
});

describe('an unwritable .factory', () => {
  const undo: (() => void)[] = [];
  afterEach(() => {
    for (const f of undo.splice(0)) f();
  });

  /** Makes a file read-only even for an open descriptor (chattr +i: root only), or returns false when this system cannot. */
  function makeImmutable(file: string): boolean {
    try {
      execFileSync('chattr', ['+i', file], { stdio: 'ignore' });
      undo.push(() => execFileSync('chattr', ['-i', file], { stdio: 'ignore' }));
      return true;
    } catch {
      return false;
    }
  }

  /** Makes `dir` read-only even for root (chattr +i), or returns false when this system cannot. */
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

  test('a read-only .factory is a clear error and the run does not pretend success', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, '.factory'));
    // As root, chmod does not stop writes; the immutable attribute does (ext4, as on CI).
    expect(makeReadOnly(path.join(dir, '.factory')), 'cannot make a folder read-only here').toBe(true);
    const result = await runPipeline(buildPipeline(dir, { stages: { a: cmd('echo ran > ran.txt') } }), { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.exitCode).toBe(1);
    expect(!result.ok && result.message).toMatch(/cannot (write|take) the (run record|lock).*\.factory.*(permission denied|operation not permitted|read-only)/);
    expect(() => readFileSync(path.join(dir, 'ran.txt'))).toThrow();
  });

  test('a journal that becomes unwritable mid-run stops the run with an error', async () => {
    const dir = tempWorkspace();
    const p = buildPipeline(dir, { concurrency: 1, stages: { a: cmd('true'), b: cmd('true', { needs: ['a'] }), c: cmd('true', { needs: ['b'] }) } });
    const sink = collectEvents();
    let locked = false;
    const result = await runPipeline(p, {
      executors: stageExecutors,
      env: TEST_ENV,
      sink: {
        emit(e) {
          sink.emit(e);
          // Once a has finished, the journal (open since the run started) refuses writes.
          if (e.type === 'stage_finished' && e.stage === 'a' && !locked) {
            const journal = path.join(dir, '.factory', 'runs', e.run, 'journal');
            locked = makeImmutable(path.join(journal, readdirSync(journal)[0]!));
          }
        },
      },
    });
    expect(locked, 'cannot make a file immutable here (chattr +i needs root)').toBe(true);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.summary).toMatchObject({ status: 'error', exit_code: 1 });
    expect(result.summary.error).toMatch(/the run record cannot be written: .*journal.*(permission denied|operation not permitted)/);
    expect(result.summary.stages.find((s) => s.path === 'c')).toMatchObject({ status: 'skipped' });
  });

  test('a log folder that becomes unwritable mid-run stops the run with an error', async () => {
    const dir = tempWorkspace();
    const p = buildPipeline(dir, { concurrency: 1, stages: { a: cmd('true'), b: cmd('echo printed', { needs: ['a'] }), c: cmd('true', { needs: ['b'] }) } });
    const sink = collectEvents();
    let locked = false;
    const result = await runPipeline(p, {
      executors: stageExecutors,
      env: TEST_ENV,
      sink: {
        emit(e) {
          sink.emit(e);
          // Once a has finished, the folder of logs turns read-only: b's output cannot be kept.
          if (e.type === 'stage_finished' && e.stage === 'a' && !locked) locked = makeReadOnly(path.join(dir, '.factory', 'runs', e.run, 'stages'));
        },
      },
    });
    expect(locked, 'cannot make a folder read-only here').toBe(true);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.summary).toMatchObject({ status: 'error', exit_code: 1 });
    expect(result.summary.error).toMatch(/the run record cannot be written: .*stages.*(permission denied|operation not permitted)/);
    expect(result.summary.stages.find((s) => s.path === 'c')).toMatchObject({ status: 'skipped' });
  });
});
