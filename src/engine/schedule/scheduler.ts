import type { Iteration } from '../../records/iteration.js';
import type { Scope, StageNode } from '../../config/pipeline.js';
import type { Value } from '../../expr/index.js';
import type { StageFile } from '../../records/types.js';
import type { StageExecutor } from '../executor.js';
import { loopContexts, runAttempts, type Where } from './attempts.js';
import { condition, expressionReason } from '../expressions.js';
import { internalReason } from '../../records/reasons.js';
import { unreachable } from '../../base/unreachable.js';
import { recordNotRun, type Outcome } from '../stage-record.js';
import type { RunState } from '../state.js';
import { firstUnsuccessful, statusFunctions } from '../status-functions.js';
import { fanoutOf } from '../../config/fanout.js';
import { JOINED, runFanout } from '../fanout/run-fanout.js';

const DEFAULT_IF = '${{ success() }}';
const CANCELLED = { kind: 'cancelled' } as const;
/** Not started because the run stops starting stages (an error elsewhere, or the record). */
const STOPPED = { kind: 'needs' } as const;

export interface ScopeInput {
  scope: Scope;
  /** Ids to decide now: run, skip, or cancel. */
  planned: ReadonlySet<string>;
  /** Stages taken as they stand in the record, by id. */
  kept: ReadonlyMap<string, StageFile>;
  /** Finished stages of the enclosing scopes, as the `stages` context shows them. */
  outer?: Record<string, Value>;
  iteration?: Iteration;
  /** Inside a loop body: the `loop` context (`iteration`, `previous`). */
  loop?: Value;
  /** Inside a loop body: the `loops` context, each enclosing loop's `{iteration}` by its id. */
  loops?: Value;
}

/**
 * Runs one scope (the top level, or later a loop body) as a DAG: a stage is decided once all its
 * needs are; ready stages start in the scope's order as slots free up. Resolves with every
 * stage's outcome, kept ones included.
 */
export function runScope(state: RunState, input: ScopeInput): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  const stagesContext: Record<string, Value> = { ...input.outer };
  const settle = (id: string, o: Outcome) => {
    outcomes.set(id, o);
    stagesContext[id] = { status: o.status, outputs: o.outputs as Value };
  };
  for (const [id, file] of input.kept) {
    const node = input.scope.byId.get(id);
    const o: Outcome = { status: file.status, outputs: file.outputs, continueOnError: node?.continueOnError ?? false, kept: true, attempts: file.attempts, durationMs: span(file), usage: file.usage, cost_usd: file.cost_usd };
    if (file.fingerprint) o.fingerprint = file.fingerprint;
    // Only the name survives in the record; the reason's data was told in its message.
    if (file.reason) o.reasonName = file.reason;
    if (file.message) o.message = file.message;
    settle(id, o);
  }
  const waiting = input.scope.stages.filter((s) => input.planned.has(s.id) && !outcomes.has(s.id));
  // How many of its needs each waiting stage still waits for, and who waits for each stage: a
  // stage's end touches its dependants only, instead of a rescan of every waiting stage.
  const order = new Map(waiting.map((s, i) => [s.id, i]));
  const left = new Map<string, number>();
  const dependants = new Map<string, StageNode[]>();
  const ready: StageNode[] = [];
  for (const node of waiting) {
    let count = 0;
    for (const n of node.needs) {
      if (outcomes.has(n) || !isKnown(input, n)) continue;
      count++;
      let list = dependants.get(n);
      if (!list) dependants.set(n, (list = []));
      list.push(node);
    }
    left.set(node.id, count);
    if (count === 0) ready.push(node);
  }
  return new Promise((resolve) => {
    let active = 0;
    let pendingCount = waiting.length;
    const where = (): Where => ({ stages: stagesContext, ...(input.iteration === undefined ? {} : { iteration: input.iteration }), ...(input.loop === undefined ? {} : { loop: input.loop, loops: input.loops ?? {} }) });
    const start = (node: StageNode) => {
      active++;
      pendingCount--;
      void decide(state, node, outcomes, where())
        // A throw here is a bug in the engine: `internal` (exit 70), never retried.
        .catch((err: unknown) => {
          const reason = internalReason(err);
          return recordNotRun(state, node, { status: 'error', reason, message: `internal error: ${reason.error.message}`, outputs: {} }, input.iteration);
        })
        .then((o) => {
          if (o.status === 'error' && !o.continueOnError) {
            state.stopping ??= { path: node.path, message: `stage "${node.path}" ended in error (${o.reasonName ?? 'error'})`, record: false };
          }
          settle(node.id, o);
          active--;
          const next: StageNode[] = [];
          for (const d of dependants.get(node.id) ?? []) {
            const count = left.get(d.id)! - 1;
            left.set(d.id, count);
            if (count === 0) next.push(d);
          }
          // Ready stages start in the scope's order, as slots are granted first come, first served.
          next.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
          for (const d of next) start(d);
          if (active === 0 && pendingCount === 0) resolve(outcomes);
        });
    };
    for (const node of ready) start(node);
    if (active === 0 && pendingCount === 0) resolve(outcomes);
  });
}

/** A need that is neither planned nor kept never finishes; it is judged as missing instead of waited for. */
function isKnown(input: ScopeInput, id: string): boolean {
  return input.planned.has(id) || input.kept.has(id);
}

/** Evaluates `if`, waits for a slot, and runs the stage; or records why it does not run. */
async function decide(state: RunState, node: StageNode, outcomes: ReadonlyMap<string, Outcome>, where: Where): Promise<Outcome> {
  const notRun = (status: 'skipped' | 'cancelled' | 'error', reason: Outcome['reason'], message: string) =>
    recordNotRun(state, node, { status, reason, message, outputs: {} }, where.iteration);
  if (state.signal.aborted) return notRun('cancelled', cancelledBy(state).reason, cancelledBy(state).message);
  if (state.stopping?.record) return notRun('skipped', STOPPED, `not started: ${state.stopping.message}`);

  const status = statusFunctions(node, outcomes, state.signal);
  let uses: ReadonlySet<string> = new Set(['success']);
  let go: boolean;
  if (node.if === DEFAULT_IF) {
    go = status.success();
  } else {
    const cond = condition(node, 'if', node.if);
    if (!cond.ok) return notRun('error', expressionReason(cond), cond.message);
    uses = cond.value.uses;
    // As in GitHub Actions, a condition without a status function means `success() && (it)`.
    const implicit = uses.size === 0;
    if (implicit && !status.success()) {
      go = false;
    } else {
      const r = cond.value.test({ contexts: { ...(state.contexts as unknown as Record<string, Value>), stages: where.stages, ...loopContexts(where) }, status });
      if (!r.ok) return notRun('error', expressionReason(r), r.message);
      go = r.value;
    }
    if (!go && !(implicit || uses.has('success'))) return notRun('skipped', { kind: 'if', condition: node.if }, `${node.if} was false`);
  }
  if (!go) {
    const first = firstUnsuccessful(node, outcomes);
    if (first) return notRun('skipped', { kind: 'needs', need: first.id }, `needs "${first.id}", which ${first.outcome ? describe(first.outcome.status) : 'did not run'}`);
    return notRun('skipped', { kind: 'if', condition: node.if }, `${node.if} was false`);
  }
  const haltOk = () => !state.stopping || (!state.stopping.record && (uses.has('always') || uses.has('failure')));
  if (!haltOk()) return notRun('skipped', STOPPED, `not started: ${state.stopping!.message}`);

  const spec = fanoutOf(node.def);
  if (spec) {
    // Each instance is scheduled as a sibling stage would be, in its own state (its signal, its values).
    const halts = (s: RunState) => () => !s.stopping || (!s.stopping.record && (uses.has('always') || uses.has('failure')));
    return runFanout(state, node, spec, where, (s, n, w) => runWithSlot(s, n, s.executors[n.kind], w, halts(s), outcomes));
  }
  return runWithSlot(state, node, state.executors[node.kind], where, haltOk, outcomes);
}

/** Why a stage is cancelled: its fan-out's join was decided (section 13), or the run was interrupted. */
function cancelledBy(state: RunState): { reason: Outcome['reason']; message: string } {
  if (state.signal.reason === JOINED) return { reason: { kind: 'joined', join: 'first_success' }, message: 'not started: another instance succeeded first' };
  return { reason: CANCELLED, message: 'not started: the run was interrupted' };
}

export async function runWithSlot(state: RunState, node: StageNode, executor: StageExecutor, where: Where, haltOk: () => boolean, outcomes: ReadonlyMap<string, Outcome>): Promise<Outcome> {
  const notRun = (status: 'skipped' | 'cancelled', reason: Outcome['reason'], message: string) =>
    recordNotRun(state, node, { status, reason, message, outputs: {} }, where.iteration);
  if (executor.holdsSlot && !(await state.slots.acquire(state.signal))) return notRun('cancelled', cancelledBy(state).reason, cancelledBy(state).message);
  try {
    // The run may have been interrupted or stopped while this stage waited for its slot.
    if (state.signal.aborted) return notRun('cancelled', cancelledBy(state).reason, cancelledBy(state).message);
    if (!haltOk()) return notRun('skipped', STOPPED, `not started: ${state.stopping!.message}`);
    return await runCached(state, node, executor, where, outcomes);
  } finally {
    if (executor.holdsSlot) state.slots.release();
  }
}

/**
 * The stage's fingerprint once its slot is held (a review's diff is taken as it will see it);
 * a matching succeeded result is reused, else the stage runs and a success is stored (SPEC
 * section 9).
 */
async function runCached(state: RunState, node: StageNode, executor: StageExecutor, where: Where, outcomes: ReadonlyMap<string, Outcome>): Promise<Outcome> {
  const cache = state.cache;
  if (!cache) return runAttempts(state, node, executor, where);
  const prepared = cache.prepare(state, node, where, outcomes);
  if (prepared.entry) {
    const reused = await cache.reuse(state, node, where, prepared);
    if (reused) return reused;
  }
  cache.begin(node, prepared);
  let outcome: Outcome | undefined;
  try {
    outcome = await runAttempts(state, node, executor, prepared.fingerprint === undefined ? where : { ...where, fingerprint: prepared.fingerprint });
    return outcome;
  } finally {
    cache.end(state, node, prepared, outcome ?? { status: 'error', outputs: {}, continueOnError: false, kept: false, attempts: 0, durationMs: 0 });
  }
}

function describe(status: Outcome['status']): string {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return 'failed';
    case 'error':
      return 'ended in error';
    case 'skipped':
      return 'was skipped';
    case 'cancelled':
      return 'was cancelled';
    case 'running':
      return 'did not finish';
    default:
      return unreachable(status, 'status');
  }
}

function span(file: StageFile): number {
  if (!file.started_at || !file.ended_at) return 0;
  return Math.max(0, Date.parse(file.ended_at) - Date.parse(file.started_at));
}
