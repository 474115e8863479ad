import type { JsonValue, StageNode } from '../config/pipeline.js';
import type { StageFile } from '../records/types.js';
import { RECORD_VERSION } from '../records/types.js';
import { ZERO_USAGE, type Reason, type StageStatus, type Usage } from './events.js';
import { checkRecord, emit, type RunState } from './state.js';

/** A stage's end as the scheduler keeps it for `needs`, `if` and the `stages` context. */
export interface Outcome {
  status: StageStatus | 'running';
  reason?: Reason;
  message?: string;
  outputs: Record<string, JsonValue>;
  continueOnError: boolean;
  kept: boolean;
  attempts: number;
  durationMs: number;
  /** What the stage spent (a loop: its body over all iterations), for the enclosing loop's total. */
  usage?: Usage;
  cost_usd?: number;
  /** Its fingerprint (SPEC section 9), when it has one: what its dependants' fingerprints take. */
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

/**
 * A stage that is still running after this long has its `running` state written; one that ends
 * sooner is written once, at its end (creating files is what costs most on a fast DAG).
 */
const RUNNING_WRITE_DELAY_MS = 100;

/** Writes the stage's file for an attempt that starts, and says so. */
export function recordStart(state: RunState, node: StageNode, startedAt: string, attempt: number, iteration?: number): void {
  const running = stageFile(node, { status: 'running', started_at: startedAt, ended_at: null, attempts: attempt, outputs: {} }, iteration);
  state.store.putStage(running, { deferMs: RUNNING_WRITE_DELAY_MS });
  checkRecord(state);
  emit(state, { type: 'stage_started', stage: node.path, kind: node.kind, attempt, ...(iteration === undefined ? {} : { iteration }) });
}

/** Writes the stage's final file, emits stage_finished and returns its outcome. */
export function recordEnd(state: RunState, node: StageNode, end: Ending, times: { startedAt: string | null; started: number | null }, attempts: number, iteration?: number): Outcome {
  const endedAt = new Date();
  const durationMs = times.started === null ? 0 : Math.max(0, endedAt.getTime() - times.started);
  const usage = end.usage ?? ZERO_USAGE;
  const cost = end.cost_usd ?? 0;
  state.store.putStage(
    stageFile(node, {
      status: end.status,
      reason: end.reason ?? null,
      message: end.message ?? null,
      started_at: times.startedAt,
      ended_at: endedAt.toISOString(),
      attempts,
      outputs: end.outputs,
      usage,
      cost_usd: cost,
      cached: end.cached === true,
      fingerprint: end.fingerprint ?? null,
    }, iteration),
  );
  checkRecord(state);
  emit(state, {
    type: 'stage_finished',
    stage: node.path,
    ...(iteration === undefined ? {} : { iteration }),
    status: end.status,
    ...(end.reason ? { reason: end.reason } : {}),
    ...(end.message ? { message: end.message } : {}),
    cached: end.cached === true,
    duration_ms: durationMs,
    usage,
    cost_usd: cost,
  });
  const outcome: Outcome = { status: end.status, outputs: end.outputs, continueOnError: node.continueOnError, kept: false, attempts, durationMs, usage, cost_usd: cost };
  if (end.reason) outcome.reason = end.reason;
  if (end.message) outcome.message = end.message;
  if (end.fingerprint) outcome.fingerprint = end.fingerprint;
  if (end.cached) outcome.cached = true;
  return outcome;
}

/** A stage decided without running it: skipped, cancelled before it started, or a bad `if`. */
export function recordNotRun(state: RunState, node: StageNode, end: Ending, iteration?: number): Outcome {
  return recordEnd(state, node, end, { startedAt: null, started: null }, 0, iteration);
}

function stageFile(node: StageNode, fields: Partial<StageFile> & Pick<StageFile, 'status'>, iteration?: number): StageFile {
  const file: StageFile = {
    version: RECORD_VERSION,
    path: node.path,
    kind: node.kind,
    status: fields.status,
    reason: fields.reason ?? null,
    message: fields.message ?? null,
    started_at: fields.started_at ?? null,
    ended_at: fields.ended_at ?? null,
    attempts: fields.attempts ?? 0,
    cached: fields.cached ?? false,
    outputs: fields.outputs ?? {},
    usage: fields.usage ?? ZERO_USAGE,
    cost_usd: fields.cost_usd ?? 0,
    fingerprint: fields.fingerprint ?? null,
  };
  if (iteration !== undefined) file.iteration = iteration;
  return file;
}
