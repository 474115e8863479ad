import type { Iteration } from '../records/iteration.js';
import type { JsonValue, StageNode } from '../config/pipeline.js';
import type { StageStatus } from '../records/events.js';
import { reasonName, type Reason, type ReasonName } from '../records/reasons.js';
import { checkRecord, emit, journal, type RunState } from './state.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';

/** A stage's end as the scheduler keeps it for `needs`, `if` and the `stages` context. */
export interface Outcome {
  status: StageStatus | 'running';
  /** Why, with its data: set for a stage decided in this run. */
  reason?: Reason;
  /** The name the record keeps: set for every stage not succeeded, kept ones (read back from run.json) included. */
  reasonName?: ReasonName;
  message?: string;
  outputs: Record<string, JsonValue>;
  continueOnError: boolean;
  kept: boolean;
  attempts: number;
  durationMs: number;
  /** What the stage spent (a loop: its body over all iterations), for the enclosing loop's total. */
  usage?: Usage;
  cost_usd?: number;
  /** Its fingerprint (docs/cache-and-watch.md), when it has one: what its dependants' fingerprints take. */
  fingerprint?: string;
  /** Reused from the cache. */
  cached?: boolean;
}

export interface Ending {
  status: StageStatus;
  reason?: Reason;
  message?: string;
  outputs: Record<string, JsonValue>;
  usage?: Usage;
  cost_usd?: number;
  /** The stage's fingerprint, recorded in its file. */
  fingerprint?: string;
  /** Reused from the cache instead of run. */
  cached?: boolean;
}

/** Says that an attempt starts: its `stage_started` in the journal is the stage's `running` state. */
export function recordStart(state: RunState, node: StageNode, _startedAt: string, attempt: number, iteration?: Iteration): void {
  emit(state, { type: 'stage_started', stage: node.path, kind: node.kind, attempt, ...(iteration === undefined ? {} : { iteration }), ...(node.values ? { values: node.values } : {}) });
  checkRecord(state);
}

/**
 * Records the stage's end — `stage_outputs` (what the record keeps beyond the event: outputs,
 * fingerprint, first start, attempts), then `stage_finished` — and returns its outcome. This is
 * where a typed Reason becomes its name: the record and the events keep the name and `message`.
 */
export function recordEnd(state: RunState, node: StageNode, end: Ending, times: { startedAt: string | null; started: number | null }, attempts: number, iteration?: Iteration): Outcome {
  const endedAt = new Date();
  const durationMs = times.started === null ? 0 : Math.max(0, endedAt.getTime() - times.started);
  const usage = end.usage ?? ZERO_USAGE;
  const cost = end.cost_usd ?? 0;
  journal(state, {
    type: 'stage_outputs',
    stage: node.path,
    ...(iteration === undefined ? {} : { iteration }),
    kind: node.kind,
    outputs: end.outputs,
    fingerprint: end.fingerprint ?? null,
    started_at: times.startedAt,
    ended_at: endedAt.toISOString(),
    attempts,
  });
  emit(state, {
    type: 'stage_finished',
    stage: node.path,
    ...(iteration === undefined ? {} : { iteration }),
    status: end.status,
    ...(end.reason ? { reason: reasonName(end.reason) } : {}),
    ...(end.message ? { message: end.message } : {}),
    cached: end.cached === true,
    duration_ms: durationMs,
    usage,
    cost_usd: cost,
  });
  checkRecord(state);
  const outcome: Outcome = { status: end.status, outputs: end.outputs, continueOnError: node.continueOnError, kept: false, attempts, durationMs, usage, cost_usd: cost };
  if (end.reason) {
    outcome.reason = end.reason;
    outcome.reasonName = reasonName(end.reason);
  }
  if (end.message) outcome.message = end.message;
  if (end.fingerprint) outcome.fingerprint = end.fingerprint;
  if (end.cached) outcome.cached = true;
  return outcome;
}

/** A stage decided without running it: skipped, cancelled before it started, or a bad `if`. */
export function recordNotRun(state: RunState, node: StageNode, end: Ending, iteration?: Iteration): Outcome {
  return recordEnd(state, node, end, { startedAt: null, started: null }, 0, iteration);
}
