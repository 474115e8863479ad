import type { Scope } from '../../config/pipeline.js';
import { didYouMean } from '../../config/suggest.js';
import type { StageFile } from '../../records/types.js';

export interface Selection {
  /** Stage ids to decide in this apply (run, skip or cancel). */
  planned: Set<string>;
  /** Stages taken from the record as they stand, by id. */
  kept: Map<string, StageFile>;
  /**
   * The stages whose outcome makes the run's status and exit code. With `--only`, the planned
   * ones alone: a job that runs one stage of a distributed run exits with that stage's outcome
   * (an upstream failure was reported by its own job), so the engine's `needs` and `if` see the
   * same results factory does (docs/export.md).
   */
  counted: Set<string>;
}

/**
 * Which stages of a scope run, per docs/cache-and-watch.md and `--only`:
 * - a new run: every stage, or the `--only` ones with what they need;
 * - `--resume`: succeeded stages are kept with their outputs, the rest run;
 * - `--only` on a run with a record: the selected stages run; every other stage is taken as it
 *   stands in the record, and a stage they need that has no record yet runs too.
 */
export function selectStages(scope: Scope, record: ReadonlyMap<string, StageFile> | undefined, only: readonly string[] | undefined): Selection {
  const kept = new Map<string, StageFile>();
  const planned = new Set<string>();
  const counted = new Set<string>();
  if (!only) {
    for (const s of scope.stages) {
      const previous = record?.get(s.path);
      if (previous?.status === 'succeeded') kept.set(s.id, previous);
      else planned.add(s.id);
      counted.add(s.id);
    }
    return { planned, kept, counted };
  }
  const selected = new Set(only);
  const closure = new Set<string>();
  for (const id of only) {
    closure.add(id);
    for (const up of scope.byId.get(id)?.upstream ?? []) closure.add(up);
  }
  for (const s of scope.stages) {
    const previous = record?.get(s.path);
    if (selected.has(s.id)) planned.add(s.id);
    else if (previous) kept.set(s.id, previous);
    else if (closure.has(s.id)) planned.add(s.id);
    if (planned.has(s.id)) counted.add(s.id);
  }
  return { planned, kept, counted };
}

/** A message for each `--only` id that is not a stage of the scope. */
export function unknownOnly(scope: Scope, only: readonly string[]): string[] {
  const ids = scope.stages.map((s) => s.id);
  return only
    .filter((id) => !scope.byId.has(id))
    .map((id) => `--only: there is no stage "${id}"${didYouMean(id, ids)}; stages: ${ids.join(', ')}`);
}
