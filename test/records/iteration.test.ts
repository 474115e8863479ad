import { describe, expect, test } from 'vitest';
import { compareIterations, deeper, innermost, iterationKey, iterationText, sameIteration, within } from '../../src/records/iteration.js';
import { RunFold } from '../../src/records/fold.js';
import type { JournalEvent } from '../../src/records/journal-events.js';
import { deriveRunRecord } from '../../src/records/store.js';
import type { RunMeta, StageFile } from '../../src/records/types.js';
import type { Iteration } from '../../src/records/iteration.js';
import { stageBase } from '../../src/records/paths.js';

describe('iterations of nested loops', () => {
  test('a number in one loop, the chain from the outermost loop in nested ones', () => {
    expect(deeper(undefined, 2)).toBe(2);
    expect(deeper(2, 1)).toEqual([2, 1]);
    expect(deeper([2, 1], 3)).toEqual([2, 1, 3]);
    expect(innermost([2, 1])).toBe(1);
    expect(innermost(undefined)).toBeUndefined();
    expect(sameIteration(0, undefined) && sameIteration(2, [2]) && !sameIteration([1, 2], [2, 1])).toBe(true);
    expect(within([2, 1], 2) && !within([1, 1], 2) && within(3, undefined)).toBe(true);
    expect([[2, 1], [1, 2], 1, [1]].sort((a, b) => compareIterations(a as Iteration, b as Iteration))).toEqual([1, [1], [1, 2], [2, 1]]);
    expect([iterationKey([2, 1]), iterationKey(2), iterationKey(undefined)]).toEqual(['2.1', '2', '']);
    expect([iterationText([2, 1]), iterationText(2)]).toEqual(['iteration [2, 1]', 'iteration 2']);
    expect([stageBase('a.b', [2, 1]), stageBase('a.b', 2), stageBase('a', undefined)]).toEqual(['a.b@2.1', 'a.b@2', 'a']);
  });
});

const META: RunMeta = { id: 'r', name: 'n', status: 'succeeded', exit_code: 0, started_at: '2026-01-01T00:00:00.000Z', ended_at: null };
let clock = 0;
const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();

function ran(fold: RunFold, stage: string, kind: string, iteration?: Iteration): void {
  const it = iteration === undefined ? {} : { iteration };
  fold.apply({ type: 'stage_started', time: at(), run: 'r', stage, kind, attempt: 1, ...it } as JournalEvent);
  fold.apply({ type: 'stage_finished', time: at(), run: 'r', stage, status: 'succeeded', cached: false, duration_ms: 1, usage: {}, cost_usd: 0, ...it } as JournalEvent);
}

/** Outer iteration → the inner loop's iterations in it, as run.json has them. */
function innerRounds(files: StageFile[]): Record<number, number[]> {
  const record = deriveRunRecord(META, files);
  return Object.fromEntries(record.stages.outer!.iterations!.map((it) => [it.iteration, it.stages['outer.inner']!.iterations!.map((i) => i.iteration)]));
}

describe('records of a loop inside a loop', () => {
  test("run.json keeps every outer iteration's inner iterations; an inner loop starting again drops only its own outer iteration's", () => {
    const fold = new RunFold();
    ran(fold, 'outer', 'loop');
    for (const [o, rounds] of [[1, 2], [2, 1]] as const) {
      ran(fold, 'outer.inner', 'loop', o);
      // What the engine journals when the inner loop starts again in this outer iteration.
      fold.apply({ type: 'iterations_dropped', time: at(), run: 'r', stage: 'outer.inner', iteration: o } as JournalEvent);
      for (let i = 1; i <= rounds; i++) ran(fold, 'outer.inner.ask', 'plan', [o, i]);
    }
    expect(innerRounds(fold.stages())).toEqual({ 1: [1, 2], 2: [1] });
    expect(fold.stage('outer.inner.ask', [1, 2])?.status).toBe('succeeded');
    // The outer loop running again (a resumed run) drops everything under it.
    fold.apply({ type: 'iterations_dropped', time: at(), run: 'r', stage: 'outer' } as JournalEvent);
    expect(fold.iterationsOf('outer')).toEqual([]);
  });

  test('records of earlier versions (the innermost iteration only) still read: the inner loop in every outer iteration', () => {
    const file = (path: string, kind: StageFile['kind'], iteration?: number): StageFile => ({
      version: 1, path, kind, status: 'succeeded', reason: null, message: null, started_at: at(), ended_at: at(), attempts: 1, cached: false, outputs: {}, fingerprint: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, cost_usd: 0,
      ...(iteration === undefined ? {} : { iteration }),
    });
    const files = [file('outer', 'loop'), file('outer.inner', 'loop', 1), file('outer.inner', 'loop', 2), file('outer.inner.ask', 'plan', 1)];
    expect(innerRounds(files)).toEqual({ 1: [1], 2: [1] });
  });
});
