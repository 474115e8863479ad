import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runPipeline } from '../../src/engine/run.js';
import { loadRun } from '../../src/records/read.js';
import { buildPipeline, collectEvents, tempWorkspace } from '../support/pipeline-builder.js';
import { run, TEST_ENV } from '../support/run-helpers.js';
import { stageExecutors } from '../../src/stages/registry.js';

/**
 * Records and file changes that travel between machines (docs/export.md), played with two
 * workspaces standing for two CI jobs: what one job uploads (`journal/<id>.ndjson`, `stages/<id>.*`,
 * `stages/<id>@*`, `changes/<id>.*`) is copied into the other's run folder, as the exported workflow does.
 */
const RUN = 'gh-1234-1';

function ship(from: string, to: string, stage: string, runId = RUN): void {
  const src = path.join(from, '.factory', 'runs', runId);
  const dst = path.join(to, '.factory', 'runs', runId);
  for (const sub of ['journal', 'stages', 'changes']) {
    if (!existsSync(path.join(src, sub))) continue;
    for (const name of readdirSync(path.join(src, sub))) {
      const mine = sub === 'journal' ? name === `${stage}.ndjson` : name.startsWith(`${stage}.`) || (sub === 'stages' && name.startsWith(`${stage}@`));
      if (!mine) continue;
      mkdirSync(path.join(dst, sub), { recursive: true });
      copyFileSync(path.join(src, sub, name), path.join(dst, sub, name));
    }
  }
}

/** Two checkouts of the same files. */
function machines(files: Record<string, string> = {}): [string, string] {
  const dirs = [tempWorkspace('factory-m1-'), tempWorkspace('factory-m2-')] as [string, string];
  for (const dir of dirs) for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dirs;
}

const cmd = (runText: string, extra: Record<string, unknown> = {}) => ({ kind: 'command', run: runText, retries: 0, ...extra });
const log = (dir: string) => (existsSync(path.join(dir, 'ran.log')) ? readFileSync(path.join(dir, 'ran.log'), 'utf8').trim().split('\n') : []);

const CHAIN = {
  stages: {
    make: cmd('echo make >> ran.log; mkdir -p out; printf "42" > out/answer.txt; printf "\\000\\001\\002" > out/blob.bin; printf "#!/bin/sh\\necho hi\\n" > run.sh; chmod +x run.sh; rm old.txt; echo made'),
    use: cmd('echo use >> ran.log; cat out/answer.txt; ./run.sh; test ! -e old.txt', { needs: ['make'], env: { FROM_MAKE: '${{ stages.make.outputs.stdout }}' } }),
    after: cmd('echo after >> ran.log; printf "%s" "$FROM_MAKE"', { needs: ['use'], env: { FROM_MAKE: '${{ stages.make.outputs.stdout }}' } }),
  },
};

describe('records from several machines merge', () => {
  test('downloaded journals without run.json: --only reuses their outputs and statuses, never reruns them, and run.json is derived from all', async () => {
    const [m1, m2] = machines({ 'old.txt': 'old\n' });
    const first = await run(buildPipeline(m1, CHAIN), { runId: RUN, resume: true, only: ['make'] });
    expect(first.summary.exit_code).toBe(0);
    expect(existsSync(path.join(m1, '.factory', 'runs', RUN, 'changes', 'make.patch'))).toBe(true);
    ship(m1, m2, 'make');
    expect(existsSync(path.join(m2, '.factory', 'runs', RUN, 'run.json'))).toBe(false);

    const second = await run(buildPipeline(m2, CHAIN), { runId: RUN, resume: true, only: ['use'] });
    expect(second.summary.exit_code).toBe(0);
    // ran.log came with make's file changes; make itself did not run here.
    expect(log(m2)).toEqual(['make', 'use']);
    expect(second.events.of('stage_started').map((e) => e.stage)).toEqual(['use']);
    expect(second.stage('make')).toMatchObject({ status: 'succeeded', outputs: { stdout: 'made\n' } });
    expect(second.stage('use').outputs.stdout).toBe('42hi\n');
    expect(Object.keys(second.record.stages)).toEqual(['make', 'use']);
    // The run started when its first job did: run.json did not travel, the journal says so.
    expect(second.record.started_at).toBe(first.record.started_at);
    expect(second.events.of('stage_finished')[0]).toMatchObject({ stage: 'make', kept: true });

    // A third machine gets both upstream records; the second's run.json does not travel.
    const m3 = machines({ 'old.txt': 'old\n' })[0];
    ship(m1, m3, 'make');
    ship(m2, m3, 'use');
    const third = await run(buildPipeline(m3, CHAIN), { runId: RUN, resume: true, only: ['after'] });
    expect(log(m3)).toEqual(['make', 'use', 'after']);
    expect(third.events.of('stage_started').map((e) => e.stage)).toEqual(['after']);
    expect(third.stage('after').outputs.stdout).toBe('made\n');
    expect(Object.fromEntries(Object.entries(third.record.stages).map(([k, v]) => [k, v.status]))).toEqual({ make: 'succeeded', use: 'succeeded', after: 'succeeded' });
  });

  test('a record of the earlier layout (run.json and stage files, written by hand) is still read, and continued: the stage files win over run.json', async () => {
    const [m2] = machines({ 'old.txt': 'old\n' });
    const runDir = path.join(m2, '.factory', 'runs', RUN);
    mkdirSync(path.join(runDir, 'stages'), { recursive: true });
    const usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const stage = (stdout: string, at: string) => ({ status: 'succeeded', reason: null, message: null, started_at: at, ended_at: at, attempts: 1, cached: false, outputs: { stdout, exit_code: 0 }, usage, cost_usd: 0, fingerprint: null });
    // As an earlier version wrote it on another machine: run.json knows make and use; make's own file says otherwise.
    writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({
      version: 1, id: RUN, name: 'old', status: 'succeeded', exit_code: 0, started_at: '2026-11-01T10:00:00.000Z', ended_at: '2026-11-01T10:00:02.000Z', usage, cost_usd: 0,
      stages: { make: stage('from run.json\n', '2026-11-01T10:00:00.500Z'), use: stage('42hi\n', '2026-11-01T10:00:01.000Z') },
    }, null, 2));
    writeFileSync(path.join(runDir, 'stages', 'make.json'), JSON.stringify({ version: 1, path: 'make', kind: 'command', ...stage('from the file\n', '2026-11-01T10:00:00.500Z') }, null, 2));
    const loaded = loadRun(m2, RUN);
    expect(loaded.ok && Object.keys(loaded.record.stages)).toEqual(['make', 'use']);
    expect(loaded.ok && loaded.record.stages.make!.outputs.stdout).toBe('from the file\n');
    expect(loaded.ok && loaded.record).toMatchObject({ name: 'old', status: 'succeeded', started_at: '2026-11-01T10:00:00.000Z' });
    const r = await run(buildPipeline(m2, CHAIN), { runId: RUN, resume: true, only: ['after'] });
    expect(r.events.of('stage_started').map((e) => e.stage)).toEqual(['after']);
    expect(r.stage('after').outputs.stdout).toBe('from the file\n');
    // The continued record: the old files under this version's journal, the run still started when it first did.
    const again = loadRun(m2, RUN);
    expect(again.ok && Object.fromEntries(Object.entries(again.record.stages).map(([k, v]) => [k, v.status]))).toEqual({ make: 'succeeded', use: 'succeeded', after: 'succeeded' });
    expect(again.ok && again.record.started_at).toBe('2026-11-01T10:00:00.000Z');
    expect(again.ok && again.record.stages.make!.outputs.stdout).toBe('from the file\n');
  });

  test('jobs of one run sharing a folder (a volume claim) take turns at the lock instead of failing', async () => {
    const dir = tempWorkspace();
    const config = { stages: { left: cmd('sleep 0.3; printf L > left.txt'), right: cmd('sleep 0.3; printf R > right.txt'), both: cmd('cat left.txt right.txt', { needs: ['left', 'right'] }) } };
    const [left, right] = await Promise.all([
      run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['left'] }),
      run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['right'] }),
    ]);
    expect([left.summary.exit_code, right.summary.exit_code]).toEqual([0, 0]);
    const both = await run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['both'] });
    expect(both.stage('both').outputs.stdout).toBe('LR');
    expect(Object.keys(both.record.stages).sort()).toEqual(['both', 'left', 'right']);
    // Another run in the same folder is still refused at once.
    const job = run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['left'] });
    const other = await runPipeline(buildPipeline(dir, config), { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, runId: 'other', only: ['left'] });
    expect(other).toMatchObject({ ok: false, exitCode: 2 });
    expect(!other.ok && other.message).toContain(`another apply is running in this directory: run ${RUN}`);
    expect((await job).summary.exit_code).toBe(0);
  });

  test('budgets start from what the merged records spent', async () => {
    const [m1, m2] = machines();
    const cassette = (dir: string) => {
      const file = path.join(dir, 'cassette.json');
      const message = (text: string) => ({ id: 'msg', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 40_000, output_tokens: 1000, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } });
      writeFileSync(file, JSON.stringify({ version: 1, calls: [{ stage: 'first', iteration: 0, call: 1, response: message('one') }, { stage: 'second', iteration: 0, call: 1, response: message('two') }] }));
      return file;
    };
    const config = {
      defaults: { model: 'claude-sonnet-5-5', provider: 'replay', retries: 0 },
      budget: { tokens: '60k' },
      stages: {
        first: { kind: 'plan', prompt: 'One.' },
        spent: cmd('printf "%s" "$SPENT"', { needs: ['first'], env: { SPENT: '${{ budget.spent_tokens }}' } }),
        second: { kind: 'plan', prompt: 'Two.', needs: ['spent'] },
      },
    };
    const a = await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['first'], models: { replay: cassette(m1) } });
    expect(a.stage('first').usage.input_tokens).toBe(40_000);
    ship(m1, m2, 'first');
    const b = await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['spent'], models: { replay: cassette(m2) } });
    expect(b.stage('spent').outputs.stdout).toBe('41000');
    ship(m1, m2, 'spent');
    // 41k spent upstream, 60k in all: the second call (40k prompt tokens by the cassette) runs,
    // and its charge exhausts the run's budget — on one machine it would have done the same.
    const c = await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['second'], models: { replay: cassette(m2) } });
    expect(c.stage('second')).toMatchObject({ status: 'error', reason: 'budget' });
    expect(c.stage('second').message).toContain('tokens budget of the run');
    expect(c.summary.exit_code).toBe(3);
  });

  test('a job exits with the outcome of its own stages: an upstream failure kept from the record is not counted again', async () => {
    const [m1, m2] = machines();
    const config = { stages: { test: cmd('exit 1'), report: cmd('echo report', { needs: ['test'], if: '${{ always() }}' }) } };
    const a = await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['test'] });
    expect(a.summary.exit_code).toBe(1);
    ship(m1, m2, 'test');
    const b = await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['report'] });
    expect(b.stage('test').status).toBe('failed');
    expect(b.stage('report').status).toBe('succeeded');
    expect(b.summary.exit_code).toBe(0);
  });
});

describe('file changes travel as patches', () => {
  test('a job applies its upstream stages\' patches before its stage starts: created, binary, executable and deleted files', async () => {
    const [m1, m2] = machines({ 'old.txt': 'old\n' });
    await run(buildPipeline(m1, CHAIN), { runId: RUN, resume: true, only: ['make'] });
    const patch = JSON.parse(readFileSync(path.join(m1, '.factory', 'runs', RUN, 'changes', 'make.patch'), 'utf8'));
    expect(patch).toMatchObject({ version: 1, format: 'factory-patch', run: RUN, stage: 'make' });
    expect(patch.changes.map((c: { path: string }) => c.path)).toEqual(['old.txt', 'out/answer.txt', 'out/blob.bin', 'ran.log', 'run.sh']);
    expect(patch.changes[0]).toMatchObject({ path: 'old.txt', after: null });
    ship(m1, m2, 'make');
    const r = await run(buildPipeline(m2, CHAIN), { runId: RUN, resume: true, only: ['use'] });
    expect(r.stage('use')).toMatchObject({ status: 'succeeded', outputs: { stdout: '42hi\n' } });
    expect(readFileSync(path.join(m2, 'out', 'blob.bin'))).toEqual(Buffer.from([0, 1, 2]));
    expect(statSync(path.join(m2, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(existsSync(path.join(m2, 'old.txt'))).toBe(false);
    expect(r.events.of('stage_finished').filter((e) => !e.kept).map((e) => e.stage)).toEqual(['use']);
  });

  test('a patch is applied once: a --resume on the same machine, and the machine that made it, do not apply it again', async () => {
    const [m1, m2] = machines({ 'old.txt': 'old\n' });
    const config = { stages: { make: cmd('printf one > note.txt'), edit: cmd('printf two > note.txt', { needs: ['make'] }), last: cmd('cat note.txt', { needs: ['edit'] }) } };
    await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['make'] });
    // The maker itself runs the next stage: make's patch is its own, not applied again.
    const own = await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['edit'] });
    expect(own.summary.exit_code).toBe(0);
    ship(m1, m2, 'make');
    const first = await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['edit'] });
    expect(first.summary.exit_code).toBe(0);
    expect(readFileSync(path.join(m2, 'note.txt'), 'utf8')).toBe('two');
    // note.txt is now neither as make found it nor as it left it: applying again would conflict.
    const again = await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['last'] });
    expect(again.summary.exit_code).toBe(0);
    expect(again.stage('last').outputs.stdout).toBe('two');
  });

  test('a patch that does not apply is an error naming both stages, exit 2, and nothing is half-applied', async () => {
    const [m1, m2] = machines({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const config = { stages: { make: cmd('printf A > a.txt; printf B > b.txt'), use: cmd('cat a.txt b.txt', { needs: ['make'] }) } };
    await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['make'] });
    ship(m1, m2, 'make');
    writeFileSync(path.join(m2, 'b.txt'), 'edited here\n');
    const result = await runPipeline(buildPipeline(m2, config), { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, runId: RUN, resume: true, only: ['use'] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.exitCode).toBe(2);
    expect(result.message).toContain('the file changes of stage "make" (.factory/runs/gh-1234-1/changes/make.patch) do not apply before stage "use" starts');
    expect(result.message).toContain('b.txt');
    expect(result.message).toContain('nothing was applied');
    expect(readFileSync(path.join(m2, 'a.txt'), 'utf8')).toBe('a\n');
    expect(readFileSync(path.join(m2, 'b.txt'), 'utf8')).toBe('edited here\n');
    expect(log(m2)).toEqual([]);
  });

  test('patches apply in topological order, each after its upstream ones; a stage that changed nothing leaves none', async () => {
    // `two` is declared first: the order comes from needs, not from the file.
    const config = { stages: { two: cmd('printf "$(cat n.txt)2" > n.txt', { needs: ['one'] }), one: cmd('printf 1 > n.txt'), look: cmd('true', { needs: ['two'] }), three: cmd('cat n.txt', { needs: ['look'] }) } };
    const [m1, m2] = machines();
    const [m3, m4] = machines();
    await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['one'] });
    ship(m1, m2, 'one');
    await run(buildPipeline(m2, config), { runId: RUN, resume: true, only: ['two'] });
    ship(m2, m3, 'two');
    ship(m1, m3, 'one');
    const look = await run(buildPipeline(m3, config), { runId: RUN, resume: true, only: ['look'] });
    expect(look.summary.exit_code).toBe(0);
    expect(existsSync(path.join(m3, '.factory', 'runs', RUN, 'changes', 'look.patch'))).toBe(false);
    for (const [from, id] of [[m2, 'two'], [m1, 'one'], [m3, 'look']] as const) ship(from, m4, id);
    const r = await run(buildPipeline(m4, config), { runId: RUN, resume: true, only: ['three'] });
    expect(r.stage('three').outputs.stdout).toBe('12');
  });

  test('a downloaded patch cannot write outside the workspace or into .git', async () => {
    const [m1] = machines({ 'a.txt': 'a\n' });
    const config = { stages: { make: cmd('printf A > a.txt'), use: cmd('cat a.txt', { needs: ['make'] }) } };
    await run(buildPipeline(m1, config), { runId: RUN, resume: true, only: ['make'] });
    for (const bad of ['../escape.txt', '.git/config', '/etc/passwd']) {
      const m2 = tempWorkspace();
      writeFileSync(path.join(m2, 'a.txt'), 'a\n');
      ship(m1, m2, 'make');
      const file = path.join(m2, '.factory', 'runs', RUN, 'changes', 'make.patch');
      const patch = JSON.parse(readFileSync(file, 'utf8'));
      patch.changes[0].path = bad;
      writeFileSync(file, JSON.stringify(patch));
      const result = await runPipeline(buildPipeline(m2, config), { executors: stageExecutors, sink: collectEvents(), env: TEST_ENV, runId: RUN, resume: true, only: ['use'] });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toMatch(/not a usable factory patch/);
      expect(!result.ok && result.exitCode).toBe(2);
    }
  });

  test('on a shared folder (Argo\'s volume, a --resume) a review still diffs against the files as the run found them', async () => {
    const [dir] = machines({ 'old.txt': 'old\n', 'keep.txt': 'before\n' });
    const cassette = path.join(dir, '..', `${path.basename(dir)}-cassette.json`);
    const review = { id: 'msg', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [{ type: 'tool_use', id: 'toolu_1', name: 'submit_review', input: { verdict: 'approve', score: 1, findings: [], summary: 'ok' } }], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } };
    writeFileSync(cassette, JSON.stringify({ version: 1, calls: [{ stage: 'check', iteration: 0, call: 1, response: review }] }));
    const config = {
      defaults: { model: 'claude-sonnet-5-5', provider: 'replay' },
      stages: { make: cmd('printf after > keep.txt; printf new > new.txt'), check: { kind: 'review', needs: ['make'], rubric: 'Fine.' } },
    };
    await run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['make'], models: { replay: cassette } });
    const r = await run(buildPipeline(dir, config), { runId: RUN, resume: true, only: ['check'], models: { replay: cassette } });
    expect(r.stage('check').status).toBe('succeeded');
    const prompt = readFileSync(path.join(r.summary.record, 'stages', 'check.prompt.md'), 'utf8');
    expect(prompt).toContain('+++ b/new.txt');
    expect(prompt).toContain('-before');
    expect(prompt).toContain('+after');
  });

  test('without --run-id no patches are written (one machine needs none)', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'old.txt'), 'old\n');
    const r = await run(buildPipeline(dir, CHAIN));
    expect(r.summary.exit_code).toBe(0);
    expect(existsSync(path.join(r.summary.record, 'changes'))).toBe(false);
  });
});
