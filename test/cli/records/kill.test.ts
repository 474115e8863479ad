import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { RunRecord } from '../../../src/records/types.js';
import { requireBuild, runInProcess, start } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

beforeAll(requireBuild);

const STAGES = 200;
const KILLS = 20;

/** 200 `true` commands in four chains that cross (each stage needs the one four before it, some two). */
function yaml(): string {
  const lines = ['version: 1', 'name: many', 'concurrency: 4', 'stages:'];
  for (let i = 0; i < STAGES; i++) {
    const needs = i < 4 ? [] : i % 7 === 0 ? [i - 4, i - 3] : [i - 4];
    lines.push(`  s${i}:`, '    kind: command', '    run: "true"');
    if (needs.length) lines.push(`    needs: [${needs.map((n) => `s${n}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** A small seeded generator, so a failure can be replayed from the seed in its message. */
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

function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('kill -9 at any moment (the built CLI)', () => {
  test(`a ${STAGES}-stage run killed ${KILLS} times at random points: runs, show and --resume read it, and resume finishes it`, async () => {
    const seed = Date.now() % 1_000_000;
    const next = random(seed);
    const text = yaml();
    for (let round = 0; round < KILLS; round++) {
      const where = `seed ${seed}, round ${round}`;
      const dir = tempWorkspace('factory-kill-');
      writeFileSync(path.join(dir, 'factory.yaml'), text);
      // Kill once this many stages have been reported finished on stdout (the journal has them first).
      const after = Math.floor(next() * STAGES);
      const cli = start(['apply', '--json'], dir);
      const seen = new Set<string>();
      await cli.waitFor((e) => {
        if (e.type === 'stage_finished') seen.add(String(e.stage));
        return e.type === 'run_started' && after === 0 ? true : seen.size >= after && after > 0;
      }, 60_000);
      cli.child.kill('SIGKILL');
      const exit = await cli.done;
      expect(exit.signal, where).toBe('SIGKILL');
      const finishedBeforeKill = new Set(eventsOf(cli.stdout()).filter((e) => e.type === 'stage_finished').map((e) => e.stage!));
      const id = readdirSync(path.join(dir, '.factory', 'runs'))[0]!;

      const runs = await runInProcess(['runs', '--json'], dir);
      expect(runs.code, where).toBe(0);
      const listed = JSON.parse(runs.stdout) as { id: string; status: string; name: string }[];
      const show = await runInProcess(['show', id, '--json'], dir);
      expect(show.code, `${where}: ${show.stderr}`).toBe(0);
      const record = JSON.parse(show.stdout) as RunRecord;
      // A kill that lands after the run's end was journaled (the last stages finish fast) finds a finished record.
      if (listed[0]?.status === 'succeeded') {
        expect(record, where).toMatchObject({ id, status: 'succeeded', exit_code: 0 });
        expect(Object.values(record.stages).filter((st) => st.status === 'succeeded'), where).toHaveLength(STAGES);
        continue;
      }
      expect(listed, where).toEqual([expect.objectContaining({ id, status: 'interrupted', name: 'many' })]);
      expect(record.status, where).toBe('running');
      // Every stage reads back as it stood: whatever was reported finished is succeeded, the rest running or not started.
      for (const stage of finishedBeforeKill) expect(record.stages[stage]?.status, `${where}: ${stage}`).toBe('succeeded');
      for (const [stage, s] of Object.entries(record.stages)) expect(['succeeded', 'running'], `${where}: ${stage}`).toContain(s.status);
      const done = Object.entries(record.stages).filter(([, s]) => s.status === 'succeeded').map(([p]) => p);
      const table = await runInProcess(['show', id], dir);
      expect(table.code, where).toBe(0);

      const resumed = start(['apply', '--resume', '--json'], dir);
      const end = await resumed.done;
      expect(end.code, `${where}: ${resumed.stderr()}`).toBe(0);
      const events = eventsOf(resumed.stdout());
      expect(events[0]!.run, where).toBe(id);
      // Kept: exactly what had succeeded; started: everything else.
      expect(events.filter((e) => e.type === 'stage_finished' && e.kept).map((e) => e.stage).sort(), where).toEqual([...done].sort());
      expect(events.filter((e) => e.type === 'stage_started').length, where).toBe(STAGES - done.length);
      const final = JSON.parse(readFileSync(path.join(dir, '.factory', 'runs', id, 'run.json'), 'utf8')) as RunRecord;
      expect(final, where).toMatchObject({ id, status: 'succeeded', exit_code: 0 });
      expect(Object.values(final.stages).filter((s) => s.status === 'succeeded'), where).toHaveLength(STAGES);
    }
  }, 600_000);
});
