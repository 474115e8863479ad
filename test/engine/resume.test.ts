import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runPipeline } from '../../src/engine/run.js';
import { loadRun } from '../../src/records/read.js';
import { buildPipeline, collectEvents, tempWorkspace } from '../support/pipeline-builder.js';
import { run, TEST_ENV } from '../support/run-helpers.js';
import { stageExecutors } from '../../src/stages/registry.js';

const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });
/** Appends the stage id to ran.log, so tests see what ran, and fails while <id>.broken exists. */
const step = (id: string, extra: Record<string, unknown> = {}) => cmd(`echo ${id} >> ran.log; if [ -e ${id}.broken ]; then exit 1; fi; echo out-${id}`, extra);
const ran = (dir: string) => readFileSync(path.join(dir, 'ran.log'), 'utf8').trim().split('\n');

function threeStages(dir: string) {
  return buildPipeline(dir, { stages: { a: step('a'), b: step('b', { needs: ['a'] }), c: step('c', { needs: ['b'] }) } });
}

describe('resume and selection', () => {
  test('--resume keeps succeeded stages with their outputs and reruns the rest in the same record', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'b.broken'), '');
    const first = await run(threeStages(dir));
    expect(first.summary.exit_code).toBe(1);
    expect(ran(dir)).toEqual(['a', 'b']);

    writeFileSync(path.join(dir, 'ran.log'), '');
    rmSync(path.join(dir, 'b.broken'));
    const second = await run(threeStages(dir), { resume: true });
    expect(second.summary.run).toBe(first.summary.run);
    expect(second.summary.record).toBe(first.summary.record);
    expect(ran(dir)).toEqual(['b', 'c']);
    expect(second.stage('a')).toEqual(first.stage('a'));
    expect(second.summary).toMatchObject({ status: 'succeeded', exit_code: 0, resumed: true });
    expect(second.record.started_at).toBe(first.record.started_at);
    expect(second.events.of('stage_finished')[0]).toMatchObject({ stage: 'a', kept: true, status: 'succeeded' });
    expect(second.events.of('run_started')[0]!.resumed).toBe(true);
  });

  test('--resume=RUN names the run; a missing run is refused, unless it is a --run-id (then it starts)', async () => {
    const dir = tempWorkspace();
    const p = threeStages(dir);
    const refused = await runPipeline(p, { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, resume: 'nope' });
    expect(refused).toMatchObject({ ok: false, exitCode: 2 });
    expect(!refused.ok && refused.message).toContain('run "nope" has no record');
    const nothing = await runPipeline(p, { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, resume: true });
    expect(!nothing.ok && nothing.message).toContain('no run to resume');

    const started = await run(p, { runId: 'shared-1', resume: true });
    expect(started.summary).toMatchObject({ run: 'shared-1', exit_code: 0, resumed: false });
    const again = await runPipeline(p, { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, runId: 'shared-1' });
    expect(!again.ok && again.message).toContain('already has a record; add --resume');
    const bad = await runPipeline(p, { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, runId: '../x' });
    expect(!bad.ok && bad.message).toContain('not a valid run id');
  });

  test('--only runs the selected stages with what they need; others are not part of a new run', async () => {
    const dir = tempWorkspace();
    const p = buildPipeline(dir, { stages: { a: step('a'), b: step('b', { needs: ['a'] }), c: step('c', { needs: ['b'] }), d: step('d') } });
    const r = await run(p, { only: ['b'] });
    expect(ran(dir)).toEqual(['a', 'b']);
    expect(Object.keys(r.record.stages)).toEqual(['a', 'b']);
    const refused = await runPipeline(p, { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, only: ['bb'] });
    expect(refused).toMatchObject({ ok: false, exitCode: 2 });
    expect(!refused.ok && refused.message).toContain('there is no stage "bb" (did you mean "b"?)');
  });

  test('--only on a run with a record takes every other stage as it stands there', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'd.broken'), '');
    const p = buildPipeline(dir, { stages: { a: step('a'), b: step('b', { needs: ['a'] }), c: step('c', { needs: ['b'] }), d: step('d') } });
    const first = await run(p, { runId: 'r1', only: ['a', 'd'] });
    expect(first.stage('d').status).toBe('failed');
    writeFileSync(path.join(dir, 'ran.log'), '');
    // c is selected; b (needed, no record yet) runs; a is taken from the record; d stays failed, not rerun.
    const second = await run(p, { runId: 'r1', resume: true, only: ['c'] });
    expect(ran(dir)).toEqual(['b', 'c']);
    expect(second.stage('a').outputs.stdout).toBe('out-a\n');
    expect(second.stage('d').status).toBe('failed');
    expect(second.summary.exit_code).toBe(0);
    // A selected stage runs again even when it succeeded before.
    writeFileSync(path.join(dir, 'ran.log'), '');
    await run(p, { runId: 'r1', resume: true, only: ['a'] });
    expect(ran(dir)).toEqual(['a']);
  });

  test('a run killed mid-way (stages left `running`) resumes: unfinished stages run again', async () => {
    const dir = tempWorkspace();
    const p = threeStages(dir);
    const first = await run(p);
    // Make the journal look like a process killed while b was running: everything after b's
    // stage_started is gone, and the last line is torn half-way.
    const journal = path.join(first.summary.record, 'journal');
    const [name] = readdirSync(journal);
    const lines = readFileSync(path.join(journal, name!), 'utf8').split('\n');
    const cut = lines.findIndex((l) => l.includes('"type":"stage_started"') && l.includes('"stage":"b"'));
    writeFileSync(path.join(journal, name!), `${lines.slice(0, cut + 1).join('\n')}\n${lines[cut + 1]!.slice(0, 20)}`);
    rmSync(path.join(first.summary.record, 'run.json'));
    const killed = loadRun(dir, first.summary.run);
    expect(killed.ok && Object.fromEntries(Object.entries(killed.record.stages).map(([k, v]) => [k, v.status]))).toEqual({ a: 'succeeded', b: 'running' });
    expect(killed.ok && killed.record.status).toBe('running');
    writeFileSync(path.join(dir, 'ran.log'), '');
    const second = await run(p, { resume: true });
    expect(ran(dir)).toEqual(['b', 'c']);
    expect(second.summary.exit_code).toBe(0);
    expect(second.record.stages.c?.status).toBe('succeeded');
    expect(JSON.parse(readFileSync(path.join(second.summary.record, 'run.json'), 'utf8')).stages.c.status).toBe('succeeded');
  });
});
