import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { canonicalJson, hashText } from '../../../src/engine/cache/fingerprint.js';
import type { JsonValue } from '../../../src/config/pipeline.js';
import { cli, events, requireBuild, runBuilt, start } from '../../support/cli.js';
import { COMMAND, identityEnv, runDirOf, workspace } from '../approve/helpers.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

/**
 * Records read back from disk are checked against schemas/run.schema.json, through the built CLI
 * as a user meets them: a record that does not match is reported by its path and why, `runs`
 * lists it as unreadable, `show` and `--resume` of it exit 2 (never 70), and `--resume` never
 * continues an older run instead.
 */

beforeAll(requireBuild);

const YAML = 'version: 1\nname: t\nstages:\n  a: { kind: command, run: "echo hi", inputs: [] }\n';

interface Workspace {
  dir: string;
  runs: string;
  good: string;
}

function workspaceWithOneRun(): Workspace {
  const dir = tempWorkspace();
  writeFileSync(path.join(dir, 'factory.yaml'), YAML);
  const first = runBuilt(['apply'], dir);
  expect(first.code, first.stderr).toBe(0);
  const runs = path.join(dir, '.factory', 'runs');
  return { dir, runs, good: readdirSync(runs)[0]! };
}

const journalOf = (runDir: string) => path.join(runDir, 'journal', readdirSync(path.join(runDir, 'journal'))[0]!);
const lines = (...events: Record<string, unknown>[]) => events.map((e) => `${JSON.stringify({ run: 'x', ...e })}\n`).join('');
const LATER = '2099-01-01T00:00:00.000Z';

/** Each kind of damage: how to make the run folder, and what the message must say. */
const damages: [string, (ws: Workspace, runDir: string) => void, RegExp][] = [
  [
    'a garbage run.json of the earlier layout',
    (_ws, runDir) => writeFileSync(path.join(runDir, 'run.json'), '\u0000\u0001 not json'),
    /run\.json is not a run record: it is not valid JSON \(truncated or damaged\)/,
  ],
  [
    'a truncated run.json of the earlier layout',
    (ws, runDir) => writeFileSync(path.join(runDir, 'run.json'), readFileSync(path.join(ws.runs, ws.good, 'run.json'), 'utf8').slice(0, 120)),
    /run\.json is not a run record: it is not valid JSON \(truncated or damaged\)/,
  ],
  [
    'an empty run.json of the earlier layout',
    (_ws, runDir) => writeFileSync(path.join(runDir, 'run.json'), ''),
    /run\.json is not a run record: it is empty/,
  ],
  [
    'a run.json whose stage has a status no version writes',
    (ws, runDir) => {
      const record = JSON.parse(readFileSync(path.join(ws.runs, ws.good, 'run.json'), 'utf8'));
      record.stages.a.status = 'great';
      writeFileSync(path.join(runDir, 'run.json'), JSON.stringify(record));
    },
    /run\.json is not a run record: \/stages\/a\/status: must be one of "succeeded", "failed", "error", "skipped", "cancelled" or "running"/,
  ],
  [
    'a journal with a line of the wrong shape',
    (_ws, runDir) => {
      mkdirSync(path.join(runDir, 'journal'));
      writeFileSync(
        path.join(runDir, 'journal', 'apply-1.ndjson'),
        lines(
          { type: 'run_opened', time: LATER, name: 't', started_at: LATER, writer: 'apply-1' },
          { type: 'stage_started', time: LATER, stage: 'a', kind: 'command', attempt: 'first' },
        ),
      );
    },
    /journal\/apply-1\.ndjson: line 2 is not a journal event: \/attempt: must be integer/,
  ],
  [
    'a journal merged from another machine whose line is not JSON',
    (ws, runDir) => {
      // The good run's journal, and beside it one downloaded from another job, damaged in the middle.
      cpSync(path.join(ws.runs, ws.good, 'journal'), path.join(runDir, 'journal'), { recursive: true });
      writeFileSync(path.join(runDir, 'journal', 'other-job.ndjson'), `${lines({ type: 'run_opened', time: LATER, name: 't', started_at: LATER, writer: 'other-job' })}{"type": "stage_sta\n${lines({ type: 'run_ended', time: LATER, status: 'succeeded', exit_code: 0, ended_at: LATER })}`);
    },
    /journal\/other-job\.ndjson: line 2 is not a journal event: it is not valid JSON \(truncated or damaged\)/,
  ],
  [
    'a merged stage file of the earlier layout with a field of the wrong type',
    (ws, runDir) => {
      const record = JSON.parse(readFileSync(path.join(ws.runs, ws.good, 'run.json'), 'utf8'));
      writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ ...record, id: path.basename(runDir), started_at: LATER }));
      mkdirSync(path.join(runDir, 'stages'));
      writeFileSync(path.join(runDir, 'stages', 'remote.json'), JSON.stringify({ ...record.stages.a, version: 1, path: 'remote', kind: 'command', attempts: 'two' }));
    },
    /stages\/remote\.json is not a stage file: \/attempts: must be integer/,
  ],
];

describe('a record that does not match its schema, through the built CLI', () => {
  let built: Workspace;
  beforeAll(() => {
    built = workspaceWithOneRun();
  });

  test.each(damages)('%s: runs lists it as unreadable; show and --resume exit 2 saying why', (_what, damage, why) => {
    const ws = { ...built, dir: tempWorkspace() };
    cpSync(built.dir, ws.dir, { recursive: true });
    ws.runs = path.join(ws.dir, '.factory', 'runs');
    const id = 'zz-damaged';
    const runDir = path.join(ws.runs, id);
    mkdirSync(runDir);
    damage(ws, runDir);

    const runs = runBuilt(['runs', '--json'], ws.dir);
    expect(runs.code, runs.stderr).toBe(0);
    const rows = JSON.parse(runs.stdout) as { id: string; status: string; error?: string }[];
    expect(rows.map((r) => [r.id, r.status])).toEqual([[ws.good, 'succeeded'], [id, 'unreadable']]);
    expect(rows[1]!.error).toMatch(why);
    expect(rows[1]!.error).toContain(runDir);

    for (const which of [id, 'latest']) {
      const show = runBuilt(['show', which], ws.dir);
      expect(show.code, show.stderr).toBe(2);
      expect(show.stderr).toContain(`factory show: the record of run ${id} cannot be read: `);
      expect(show.stderr).toMatch(why);
    }

    const journalBefore = readFileSync(journalOf(path.join(ws.runs, ws.good)), 'utf8');
    const resumed = runBuilt(['apply', '--resume'], ws.dir);
    expect(resumed.code, resumed.stderr).toBe(2);
    expect(resumed.stderr).toContain(`the record of run ${id} cannot be read: `);
    expect(resumed.stderr).toMatch(why);
    // The older, readable run was not continued instead.
    expect(readFileSync(journalOf(path.join(ws.runs, ws.good)), 'utf8')).toBe(journalBefore);
    expect(readdirSync(ws.runs).sort()).toEqual([ws.good, id]);
  });

  test('a journal whose last line was torn by a kill is read, the torn line ignored', () => {
    const ws = workspaceWithOneRun();
    const file = journalOf(path.join(ws.runs, ws.good));
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"type":"stage_started","time":"20`, { flag: 'w' });
    const runs = runBuilt(['runs', '--json'], ws.dir);
    expect(runs.code, runs.stderr).toBe(0);
    expect((JSON.parse(runs.stdout) as { id: string; status: string }[]).map((r) => [r.id, r.status])).toEqual([[ws.good, 'succeeded']]);
    const show = runBuilt(['show', ws.good], ws.dir);
    expect(show.code, show.stderr).toBe(0);
  });
});

describe('a cache entry that does not match its schema', () => {
  test('is a miss: the stage runs again and its entry is rebuilt', () => {
    const ws = workspaceWithOneRun();
    const cache = path.join(ws.dir, '.factory', 'cache', 'stages');
    const [name] = readdirSync(cache);
    const file = path.join(cache, name!);
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Record<string, JsonValue>;
    // A wrong field with a checksum that matches it: only the schema can tell.
    const { checksum: _checksum, ...rest } = entry;
    const tampered = { ...rest, outputs: 'hi' };
    writeFileSync(file, JSON.stringify({ ...tampered, checksum: hashText(canonicalJson(tampered)) }));

    const again = runBuilt(['apply', '--json'], ws.dir);
    expect(again.code, again.stderr).toBe(0);
    const finished = again.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === 'stage_finished' && e.stage === 'a');
    expect(finished).toMatchObject({ status: 'succeeded', cached: false });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ outputs: { stdout: 'hi\n' } });

    const third = runBuilt(['apply', '--json'], ws.dir);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/"type":"stage_finished"[^\n]*"stage":"a"[^\n]*"cached":true/);
  });
});

describe('an approval answer that does not match its schema', () => {
  test('is refused on --resume: the approve stage ends in error naming the file, exit 2', () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nname: t\nstages:\n  gate: { kind: approve, message: "ship it?", timeout: 1s }\n');
    // Nobody answers: the gate times out and rejects.
    const first = runBuilt(['apply'], dir);
    expect(first.code, first.stderr).toBe(1);
    const runs = path.join(dir, '.factory', 'runs');
    const [id] = readdirSync(runs);
    const answer = path.join(runs, id!, 'approvals', 'gate.answer.json');
    mkdirSync(path.dirname(answer), { recursive: true });
    writeFileSync(answer, JSON.stringify({ version: 1, stage: 'gate', kind: 'approve', approved: 'yes', comment: null, by: 'someone', at: '2026-12-01T10:00:00.000Z', via: 'command' }));

    const resumed = runBuilt(['apply', '--resume', '--json'], dir);
    expect(resumed.code, resumed.stderr).toBe(2);
    const finished = resumed.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === 'stage_finished' && e.stage === 'gate');
    expect(finished).toMatchObject({ status: 'error', reason: 'config' });
    expect(finished!.message).toBe(`${answer} is not an approval answer: /approved: must be boolean; remove it to be asked again`);
  });
});

describe('approval files tampered with while a run waits', () => {
  test('factory approve refuses a question file of the wrong shape (exit 2); the run refuses an answer of the wrong shape (exit 2)', async () => {
    const dir = workspace('version: 1\nname: t\nstages:\n  gate: { kind: approve, message: "ship it?" }\n');
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply', '--json'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    const approvals = path.join(runDirOf(dir), 'approvals');
    const question = path.join(approvals, 'gate.waiting.json');
    writeFileSync(question, JSON.stringify({ ...JSON.parse(readFileSync(question, 'utf8')), pid: 'mine' }));

    const refused = await cli(['approve', id!, 'gate'], dir, env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`factory approve: ${question} is not an approval question: /pid: must be integer\n`);

    const answer = path.join(approvals, 'gate.answer.json');
    writeFileSync(answer, JSON.stringify({ version: 1, stage: 'gate', kind: 'approve', approved: true, comment: null, by: 'ada', at: 'yesterday', via: 'command' }));
    const done = await run.done;
    expect(done.code, done.stderr).toBe(2);
    const finished = events(done.stdout).find((e) => e.type === 'stage_finished' && e.stage === 'gate');
    expect(finished).toMatchObject({ status: 'error', reason: 'config', message: `${answer} is not an approval answer: /at: must be a time in ISO 8601 (UTC); remove it to be asked again` });
  });
});
