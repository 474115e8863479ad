import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, test } from 'vitest';
import { JournalTail, readJournalEvents } from '../../src/records/journal.js';
import { loadRun, RunFollower } from '../../src/records/read.js';
import type { StageRecord } from '../../src/records/types.js';
import { runInProcess } from '../support/cli.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';

const cmd = (runText: string, extra: Record<string, unknown> = {}) => ({ kind: 'command', run: runText, retries: 0, ...extra });
const line = (e: Record<string, unknown>) => `${JSON.stringify({ time: '2026-12-01T10:00:00.000Z', run: 'r', ...e })}\n`;

describe('the journal', () => {
  test('a tail reads whole lines only, and resumes from its offset', () => {
    const dir = tempWorkspace();
    const file = path.join(dir, 'j.ndjson');
    writeFileSync(file, line({ type: 'run_opened', name: 'n', started_at: '2026-12-01T10:00:00.000Z', writer: 'w' }));
    const tail = new JournalTail(file);
    expect(tail.read()).toMatchObject({ ok: true, events: [{ type: 'run_opened' }] });
    // A line being written (or torn by a kill) is left for later.
    const next = line({ type: 'stage_started', stage: 'a', kind: 'command', attempt: 1 });
    appendFileSync(file, next.slice(0, 10));
    expect(tail.read()).toEqual({ ok: true, events: [] });
    const offset = tail.offset;
    appendFileSync(file, `${next.slice(10)}${line({ type: 'model_answer', stage: 'a', key: 'k', message: { text: 'é' } })}`);
    expect(tail.read()).toMatchObject({ ok: true, events: [{ type: 'stage_started', stage: 'a' }, { type: 'model_answer', message: { text: 'é' } }] });
    // Another reader starts where the first one stood.
    expect(new JournalTail(file, offset).read()).toMatchObject({ ok: true, events: [{ type: 'stage_started' }, { type: 'model_answer' }] });
  });

  test('a line that is not an event is reported with the file and line', () => {
    const dir = tempWorkspace();
    const file = path.join(dir, 'j.ndjson');
    writeFileSync(file, `${line({ type: 'run_opened', name: 'n', started_at: '2026-12-01T10:00:00.000Z', writer: 'w' })}not json\n`);
    expect(new JournalTail(file).read()).toEqual({ ok: false, error: `${file}: line 2 is not a journal event: it is not valid JSON (truncated or damaged)` });
    writeFileSync(file, line({ type: 'stage_finished', stage: 'a', status: 'great' }));
    expect(new JournalTail(file).read()).toMatchObject({ ok: false, error: expect.stringContaining('line 1 is not a journal event: /status: must be one of "succeeded", "failed", "error", "skipped", "cancelled"') });
  });

  test('every engine event is in the journal, with stage_outputs, and journal-only events are kept and fold-ignored', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { a: cmd('echo hi'), b: cmd('true', { needs: ['a'] }) } }));
    const events = readJournalEvents(r.summary.record);
    // Tool calls and processes are told for traces only (docs/telemetry.md); the stage records keep what they say.
    const printed = r.events.events.map((e) => e.type).filter((t) => t !== 'process' && t !== 'tool_call');
    expect(r.events.events.filter((e) => e.type === 'process')).toHaveLength(2);
    // The same engine events in the same order, and the journal's own.
    expect(events.map((e) => e.type).filter((t) => !['run_opened', 'stage_outputs', 'run_ended'].includes(t))).toEqual(printed);
    expect(events.filter((e) => e.type === 'stage_outputs').map((e) => [e.stage, (e.outputs as { stdout?: string }).stdout])).toEqual([['a', 'hi\n'], ['b', '']]);
    // A journal-only event of a type the reader does not know (the lead's model_answer, say) is kept and changes nothing.
    const [name] = readdirSync(path.join(r.summary.record, 'journal'));
    appendFileSync(path.join(r.summary.record, 'journal', name!), line({ type: 'model_answer', run: r.summary.run, time: new Date().toISOString(), stage: 'a', key: 'a#1', message: {} }));
    expect(readJournalEvents(r.summary.record).at(-1)).toMatchObject({ type: 'model_answer', stage: 'a' });
    const loaded = loadRun(dir, r.summary.run);
    expect(loaded.ok && loaded.record).toEqual(r.record);
    // Each line matches the schema's journal_event.
    const ajv = new Ajv2020.default({ strict: true });
    ajv.addSchema(JSON.parse(readFileSync(new URL('../../schemas/run.schema.json', import.meta.url), 'utf8')));
    const validate = ajv.getSchema('https://software-factory.dev/schemas/run.schema.json#/$defs/journal_event')!;
    for (const e of readJournalEvents(r.summary.record)) expect(validate(e), JSON.stringify(validate.errors)).toBe(true);
  });

  test('merged journals of two simulated jobs give the same run.json as one machine', async () => {
    const config = {
      name: 'relay',
      stages: {
        make: cmd('echo made'),
        left: cmd('printf "%s" "$M"; exit 3', { needs: ['make'], env: { M: '${{ stages.make.outputs.stdout }}' } }),
        right: cmd('echo right', { needs: ['make'] }),
        last: cmd('echo last', { needs: ['left', 'right'], if: '${{ always() }}' }),
      },
    };
    const single = await run(buildPipeline(tempWorkspace(), config), { runId: 'one' });
    // Job 1 runs make and left; job 2 gets job 1's journal and runs right and last.
    const job1 = tempWorkspace();
    const job2 = tempWorkspace();
    await run(buildPipeline(job1, config), { runId: 'one', resume: true, only: ['make'] });
    await run(buildPipeline(job1, config), { runId: 'one', resume: true, only: ['left'] });
    const ship = (from: string, to: string, stage: string) => {
      mkdirSync(path.join(to, '.factory', 'runs', 'one', 'journal'), { recursive: true });
      cpSync(path.join(from, '.factory', 'runs', 'one', 'journal', `${stage}.ndjson`), path.join(to, '.factory', 'runs', 'one', 'journal', `${stage}.ndjson`));
    };
    ship(job1, job2, 'make');
    ship(job1, job2, 'left');
    await run(buildPipeline(job2, config), { runId: 'one', resume: true, only: ['right'] });
    await run(buildPipeline(job2, config), { runId: 'one', resume: true, only: ['last'] });
    // Every job's journal in one folder, as a download of all artifacts lays them.
    const merged = tempWorkspace();
    for (const [from, stage] of [[job1, 'make'], [job1, 'left'], [job2, 'right'], [job2, 'last']] as const) ship(from, merged, stage);
    const loaded = loadRun(merged, 'one');
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const comparable = (stages: Record<string, StageRecord>) =>
      Object.fromEntries(Object.entries(stages).map(([k, s]) => [k, { status: s.status, reason: s.reason, message: s.message, outputs: s.outputs, attempts: s.attempts, cached: s.cached, usage: s.usage, fingerprint: s.fingerprint }]));
    expect(Object.keys(loaded.record.stages)).toEqual(Object.keys(single.record.stages));
    expect(comparable(loaded.record.stages)).toEqual(comparable(single.record.stages));
    expect(loaded.record.stages.left).toMatchObject({ status: 'failed', outputs: { stdout: 'made\n' } });
    // The run's own fields: its name, when its first job started, and (as each job exits with its
    // own stages' outcome, docs/export.md) the status of the last job that ended.
    expect(loaded.record).toMatchObject({ name: 'relay', status: 'succeeded', exit_code: 0, ended_at: expect.any(String) });
    // The last job's own run.json says the same.
    const last = JSON.parse(readFileSync(path.join(job2, '.factory', 'runs', 'one', 'run.json'), 'utf8'));
    expect(comparable(last.stages)).toEqual(comparable(single.record.stages));
  });
});

describe('records that cannot be read', () => {
  async function twoRuns(): Promise<{ dir: string; good: string }> {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nname: t\nstages:\n  a: { kind: command, run: "true" }\n');
    const first = await runInProcess(['apply', '--json'], dir);
    expect(first.code).toBe(0);
    const good = readdirSync(path.join(dir, '.factory', 'runs'))[0]!;
    return { dir, good };
  }

  test.each([
    ['a truncated run.json of the earlier layout', 'old-1', (d: string) => writeFileSync(path.join(d, 'run.json'), '{"version": 1, "id": "old-1", "sta'), /run\.json is not a run record: it is not valid JSON \(truncated or damaged\)/],
    ['a run.json of the earlier layout that is not a record', 'old-2', (d: string) => writeFileSync(path.join(d, 'run.json'), '[1, 2]'), /run\.json is not a run record: not a JSON object/],
    ['a journal of the wrong shape', 'new-1', (d: string) => {
      mkdirSync(path.join(d, 'journal'));
      writeFileSync(path.join(d, 'journal', 'apply-1.ndjson'), '{"type":"run_opened"}\n');
    }, /journal\/apply-1\.ndjson: line 1 is not a journal event: "time" is missing/],
  ])('%s: runs lists it as unreadable, show and --resume exit 2 naming it, and nothing exits 70', async (_what, id, damage, why) => {
    const { dir, good } = await twoRuns();
    const runDir = path.join(dir, '.factory', 'runs', id);
    mkdirSync(runDir);
    damage(runDir);

    const runs = await runInProcess(['runs', '--json'], dir);
    expect(runs.code).toBe(0);
    const rows = JSON.parse(runs.stdout) as { id: string; status: string; error?: string }[];
    expect(rows.map((r) => [r.id, r.status])).toEqual([[good, 'succeeded'], [id, 'unreadable']]);
    expect(rows[1]!.error).toMatch(why);
    expect(rows[1]!.error).toContain(runDir);
    const table = await runInProcess(['runs'], dir);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+unreadable`));

    for (const which of [id, 'latest']) {
      const show = await runInProcess(['show', which], dir);
      expect(show.code).toBe(2);
      expect(show.stderr).toContain(`factory show: the record of run ${id} cannot be read: ${runDir}`);
      expect(show.stderr).toMatch(why);
    }
    // --resume takes the latest run, the damaged one: it says why and never continues the older run.
    const resumed = await runInProcess(['apply', '--resume'], dir);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`the record of run ${id} cannot be read: ${runDir}`);
    expect(resumed.stderr).toMatch(why);
    expect(readdirSync(path.join(dir, '.factory', 'runs', good, 'journal'))).toHaveLength(1);
    const named = await runInProcess(['apply', `--resume=${id}`], dir);
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(why);
    // Nor does a new run take its id.
    const taken = await runInProcess(['apply', '--run-id', id], dir);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain(`run "${id}" already has a record`);
  });
});

describe('following a run', () => {
  test('a follower reads only what the journals gained, and folds to the same record as a full read', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { a: cmd('echo a'), b: cmd('exit 2', { needs: ['a'] }), c: cmd('true', { needs: ['b'] }) } }));
    const [name] = readdirSync(path.join(r.summary.record, 'journal'));
    const lines = readFileSync(path.join(r.summary.record, 'journal', name!), 'utf8').split('\n').filter(Boolean);
    // The same journal, growing a line (sometimes half a line) at a time in another workspace.
    const live = tempWorkspace();
    const target = path.join(live, '.factory', 'runs', r.summary.run, 'journal', name!);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, '');
    const follower = new RunFollower(live, r.summary.run);
    let seen = 0;
    const statuses: string[] = [];
    for (const l of lines) {
      appendFileSync(target, l.slice(0, 7));
      const half = follower.poll();
      expect(half.ok && half.events).toEqual([]);
      appendFileSync(target, `${l.slice(7)}\n`);
      const polled = follower.poll();
      expect(polled.ok).toBe(true);
      if (!polled.ok) return;
      expect(polled.events).toHaveLength(1);
      seen += polled.events.length;
      statuses.push(polled.record.stages.b?.status ?? '-');
    }
    expect(seen).toBe(lines.length);
    expect([...new Set(statuses)]).toEqual(['-', 'running', 'failed']);
    const last = follower.poll();
    expect(last.ok && last.record).toEqual(r.record);
    expect(loadRun(live, r.summary.run)).toMatchObject({ ok: true, record: r.record });
  });
});
