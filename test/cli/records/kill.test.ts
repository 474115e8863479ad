import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { RunRecord } from '../../../src/records/types.js';
import { requireBuild, runInProcess, start } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

beforeAll(requireBuild);

const STAGES = 200;
const KILLS = 20;
/**
 * The kills come in chains: a run is killed, resumed, the resume killed, and so on, then finished
 * by a last resume. Each kill lands at a random point of the process it kills, and every process
 * after the first is a --resume that must have read the record the last kill left; a chain runs
 * each stage about once where twenty separate runs, each resumed to the end, ran 4,000 stages.
 */
const KILLS_PER_CHAIN = 8;

/** 200 `true` commands in four chains that cross (each stage needs the one four before it, some two). */
function yaml(): string {
  const lines = ['version: 1', 'name: many', 'concurrency: 4', 'stages:'];
  for (let i = 0; i < STAGES; i++) {
    const needs = i < 4 ? [] : i % 7 === 0 ? [i - 4, i - 3] : [i - 4];
    // An argv, not a shell line: one program started a stage instead of two.
    lines.push(`  s${i}:`, '    kind: command', '    run: ["true"]');
    if (needs.length) lines.push(`    needs: [${needs.map((n) => `s${n}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The JSON events of a CLI's stdout; a line cut by the kill is left out. */
function eventsOf(stdout: string): { type: string; stage?: string; kept?: boolean; run?: string }[] {
  return stdout.split('\n').flatMap((l) => {
    try {
      return l.startsWith('{') ? [JSON.parse(l) as { type: string; stage?: string; kept?: boolean; run?: string }] : [];
    } catch {
      return [];
    }
  });
}

/** A small seeded generator, so a failure can be replayed from the seed in its message. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

type Event = ReturnType<typeof eventsOf>[number];

/** The stages a process reported finishing by running them (not kept from the record). */
const ranTo = (events: Event[]) => new Set(events.filter((e) => e.type === 'stage_finished' && !e.kept).map((e) => e.stage!));

/** What runs, show and show --json say of the run after a kill; the stages it records as succeeded. */
async function readAfterKill(dir: string, id: string, finished: Set<string>, where: string): Promise<{ done: Set<string>; complete: boolean }> {
  const runs = await runInProcess(['runs', '--json'], dir);
  expect(runs.code, where).toBe(0);
  const listed = JSON.parse(runs.stdout) as { id: string; status: string; name: string }[];
  const show = await runInProcess(['show', id, '--json'], dir);
  expect(show.code, `${where}: ${show.stderr}`).toBe(0);
  const record = JSON.parse(show.stdout) as RunRecord;
  const table = await runInProcess(['show', id], dir);
  expect(table.code, where).toBe(0);
  // A kill that lands after the run's end was journaled (the last stages finish fast) finds a finished record.
  if (listed[0]?.status === 'succeeded') {
    expect(record, where).toMatchObject({ id, status: 'succeeded', exit_code: 0 });
    expect(Object.values(record.stages).filter((st) => st.status === 'succeeded'), where).toHaveLength(STAGES);
    return { done: new Set(Object.keys(record.stages)), complete: true };
  }
  expect(listed, where).toEqual([expect.objectContaining({ id, status: 'interrupted', name: 'many' })]);
  expect(record.status, where).toBe('running');
  // Every stage reads back as it stood: whatever was reported finished is succeeded, the rest running or not started.
  for (const stage of finished) expect(record.stages[stage]?.status, `${where}: ${stage}`).toBe('succeeded');
  for (const [stage, s] of Object.entries(record.stages)) expect(['succeeded', 'running'], `${where}: ${stage}`).toContain(s.status);
  return { done: new Set(Object.entries(record.stages).filter(([, s]) => s.status === 'succeeded').map(([p]) => p)), complete: false };
}

/** A --resume's events against the stages the record had succeeded: those kept, none started again. */
function expectResumeOf(events: Event[], id: string, done: Set<string>, finishedRun: boolean, where: string): void {
  expect(events[0]?.run, where).toBe(id);
  const kept = events.filter((e) => e.type === 'stage_finished' && e.kept).map((e) => e.stage!);
  const started = events.filter((e) => e.type === 'stage_started').map((e) => e.stage!);
  for (const stage of kept) expect(done.has(stage), `${where}: kept ${stage}`).toBe(true);
  for (const stage of started) expect(done.has(stage), `${where}: started ${stage} again`).toBe(false);
  if (!finishedRun) return;
  // Kept: exactly what had succeeded; started: everything else.
  expect(kept.sort(), where).toEqual([...done].sort());
  expect(started.length, where).toBe(STAGES - done.size);
}

describe('kill -9 at any moment (the built CLI)', () => {
  test(`a ${STAGES}-stage run killed ${KILLS} times at random points: runs, show and --resume read it, and resume finishes it`, async () => {
    const seed = Date.now() % 1_000_000;
    const next = random(seed);
    const text = yaml();
    let kills = 0;
    for (let chain = 0; kills < KILLS; chain++) {
      const dir = tempWorkspace('factory-kill-');
      writeFileSync(path.join(dir, 'factory.yaml'), text);
      let id: string | undefined;
      let done = new Set<string>();
      let complete = false;
      for (let k = 0; k < KILLS_PER_CHAIN && kills < KILLS && !complete; k++, kills++) {
        const where = `seed ${seed}, chain ${chain}, kill ${k}`;
        // Kill once this process has reported this many stages finished (the journal has them first); 0: at its start.
        const after = Math.floor(next() * (STAGES - done.size));
        const cli = start(id === undefined ? ['apply', '--json'] : ['apply', '--resume', '--json'], dir);
        const seen = new Set<string>();
        await cli.waitFor((e) => {
          if (e.type === 'stage_finished' && !e.kept) seen.add(String(e.stage));
          return after === 0 ? e.type === 'run_started' : seen.size >= after;
        }, 60_000);
        cli.child.kill('SIGKILL');
        const exit = await cli.done;
        expect(exit.signal, where).toBe('SIGKILL');
        const events = eventsOf(cli.stdout());
        if (id !== undefined) expectResumeOf(events, id, done, false, where);
        id ??= readdirSync(path.join(dir, '.factory', 'runs'))[0]!;
        const before = done;
        ({ done, complete } = await readAfterKill(dir, id, ranTo(events), where));
        for (const stage of before) expect(done.has(stage), `${where}: ${stage} lost`).toBe(true);
      }
      if (complete || id === undefined) continue;
      const where = `seed ${seed}, chain ${chain}, the last resume`;
      const resumed = start(['apply', '--resume', '--json'], dir);
      const end = await resumed.done;
      expect(end.code, `${where}: ${resumed.stderr()}`).toBe(0);
      expectResumeOf(eventsOf(resumed.stdout()), id, done, true, where);
      const final = JSON.parse(readFileSync(path.join(dir, '.factory', 'runs', id, 'run.json'), 'utf8')) as RunRecord;
      expect(final, where).toMatchObject({ id, status: 'succeeded', exit_code: 0 });
      expect(Object.values(final.stages).filter((s) => s.status === 'succeeded'), where).toHaveLength(STAGES);
    }
  }, 600_000);
});
