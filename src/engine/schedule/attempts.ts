import { setMaxListeners } from 'node:events';
import type { Iteration } from '../../records/iteration.js';
import type { JsonValue, StageNode } from '../../config/pipeline.js';
import type { EvalContext, Value } from '../../expr/index.js';
import type { StageContext, StageExecutor, StageResult } from '../executor.js';
import { retryDelayMs, sleep } from '../../base/backoff.js';
import { durationAsWritten } from '../../base/duration.js';
import { budgetReason, internalReason, isRetryable, reasonName } from '../../records/reasons.js';
import { renderAt } from '../expressions.js';
import { OutputStream, type RetryMark } from '../output-stream.js';
import { recordEnd, recordStart, type Ending, type Outcome } from '../stage-record.js';
import { runNested, runTemplateScope } from './nested.js';
import { checkRecord, tell } from '../state.js';
import { processSpan } from '../process-spans.js';
import { watchWallTime } from './wall-deadline.js';
import type { RunState } from '../state.js';

/** Kinds that do work: a wall_time budget of their scopes ends them in flight, timeout or not. */
const WORK_KINDS: ReadonlySet<string> = new Set(['command', 'plan', 'generate', 'review', 'scenario-validate', 'learn']);
/** Kinds whose executors get model services (a loop: for its ledger). */
const MODEL_SERVICE_KINDS: ReadonlySet<string> = new Set(['plan', 'generate', 'review', 'scenario-validate', 'loop', 'learn']);

export interface Where {
  /** The `stages` context the stage sees (finished stages of its scope and the enclosing ones). */
  stages: Record<string, Value>;
  iteration?: Iteration;
  /** Inside a loop body: the `loop` context. */
  loop?: Value;
  /** Inside a loop body: the `loops` context (every enclosing loop's iteration, by its id). */
  loops?: Value;
  /** The stage's fingerprint (docs/cache-and-watch.md), recorded with its end. */
  fingerprint?: string;
}

/**
 * Runs one stage to its end: each attempt under its own AbortSignal (timeout, interruption),
 * retries after a retryable `error` with exponential backoff, never after `failed`. Writes the
 * stage file at each attempt's start and at the end.
 */
export async function runAttempts(state: RunState, node: StageNode, executor: StageExecutor, where: Where): Promise<Outcome> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  let attempt = 0;
  let end: Ending;
  /** How each attempt before the last ended, for the stage's message (a retry must say why). */
  const earlier: string[] = [];
  let previous: string | undefined;
  for (;;) {
    attempt++;
    recordStart(state, node, startedAt, attempt, where.iteration);
    const once = await runOnce(state, node, executor, where, attempt, previous === undefined ? undefined : { attempt, of: node.retries + 1, previous });
    end = once.end;
    // Errors worth another attempt: the stage could not start, timed out, or its provider failed; never a bug (`internal`).
    const retry = end.status === 'error' && end.reason !== undefined && isRetryable(end.reason) && attempt <= node.retries;
    if (!retry || state.signal.aborted) break;
    // A provider that asked for a longer wait than its own retries allow (`retry-after`) is
    // honoured when the stage can afford it; otherwise the stage ends, saying why.
    const wait = retryWait(retryDelayMs(state.retryBaseMs, attempt), end.reason?.kind === 'provider' ? end.reason.retryAfterMs : undefined, { timeoutMs: node.timeoutMs, wallTimeLeftMs: once.wallTimeLeftMs });
    if (!wait.ok) {
      end = { ...end, message: `${end.message ?? 'provider error'}; not retried: ${wait.why}` };
      break;
    }
    const how = `${end.message ?? 'error'} (reason ${end.reason ? reasonName(end.reason) : 'none'})`;
    earlier.push(`attempt ${attempt} of ${node.retries + 1} ended in error: ${how}`);
    previous = how;
    once.endLines();
    if (!(await sleep(wait.ms, state.signal))) {
      end = { status: 'cancelled', reason: { kind: 'cancelled' }, message: 'interrupted while waiting to retry', outputs: end.outputs };
      break;
    }
  }
  if (earlier.length > 0) end = { ...end, message: [end.message, `retried: ${earlier.join('; ')}`].filter((m) => m !== undefined).join('; ') };
  // What the stage's model calls spent over all its attempts (a loop's: its body's), unless it says.
  const spent = end.usage === undefined ? state.models?.spentBy(node.path, where.iteration) : undefined;
  if (spent) end = { ...end, usage: spent.usage, cost_usd: spent.cost_usd };
  if (where.fingerprint !== undefined) end = { ...end, fingerprint: where.fingerprint };
  // A budget a human raised (`on_exhausted: ask`) is part of the stage's record.
  const raised = state.models?.raisedFor(node.path, where.iteration);
  if (raised) end = { ...end, message: end.message ? `${end.message}; ${raised}` : raised };
  const outcome = recordEnd(state, node, end, { startedAt, started }, attempt, where.iteration);
  // Stop starting stages at once, before this stage's slot goes to a waiting one (docs/configuration.md).
  if (end.status === 'error' && !node.continueOnError) {
    state.stopping ??= { path: node.path, message: `stage "${node.path}" ended in error (${end.reason ? reasonName(end.reason) : 'error'})`, record: false };
  }
  // Dependants start only once this stage's end is on disk: a run that dies later never has to
  // redo it, and a record that cannot be written stops the run before anything else starts.
  await state.store.written(node.path, where.iteration);
  checkRecord(state);
  return outcome;
}

/** The `loop` and `loops` contexts a stage inside a loop body reads; none elsewhere. */
export function loopContexts(where: Pick<Where, 'loop' | 'loops'>): { loop?: Value; loops?: Value } {
  return where.loop === undefined ? {} : { loop: where.loop, loops: where.loops ?? {} };
}

/** A stage retry never waits longer than this for a `retry-after`, whatever the server asks. */
export const MAX_STAGE_RETRY_AFTER_MS = 10 * 60_000;

/**
 * How long to wait before a stage's next attempt: its backoff, or the `retry-after` the provider's
 * last error carried when that is longer, unless the wait is more than a stage retry waits
 * (MAX_STAGE_RETRY_AFTER_MS), more than the stage's `timeout`, or more than the wall time left
 * in its budgets: then no retry, and why.
 */
export function retryWait(
  backoffMs: number,
  retryAfterMs: number | undefined,
  limits: { timeoutMs?: number | undefined; wallTimeLeftMs?: number | null | undefined },
): { ok: true; ms: number } | { ok: false; why: string } {
  if (retryAfterMs === undefined || retryAfterMs <= backoffMs) return { ok: true, ms: backoffMs };
  const asked = `the API asked to wait ${durationAsWritten(retryAfterMs)} before retrying`;
  if (retryAfterMs > MAX_STAGE_RETRY_AFTER_MS) return { ok: false, why: `${asked}, longer than a stage retry waits (${durationAsWritten(MAX_STAGE_RETRY_AFTER_MS)})` };
  if (limits.timeoutMs !== undefined && retryAfterMs > limits.timeoutMs) return { ok: false, why: `${asked}, longer than the stage's timeout (${durationAsWritten(limits.timeoutMs)})` };
  const left = limits.wallTimeLeftMs;
  if (left !== undefined && left !== null && retryAfterMs >= left) return { ok: false, why: `${asked}, and only ${durationAsWritten(left)} of the wall_time budget is left` };
  return { ok: true, ms: retryAfterMs };
}

interface Once {
  end: Ending;
  /** Wall time left in the stage's budgets after the attempt (null: no limit; undefined: not a model stage). */
  wallTimeLeftMs: number | null | undefined;
  /** Ends the attempt's partial output lines in the events (it is about to be retried). */
  endLines(): void;
}

async function runOnce(state: RunState, node: StageNode, executor: StageExecutor, where: Where, attempt: number, retry: RetryMark | undefined): Promise<Once> {
  const endLines = () => {
    streams.stdout.endLine();
    streams.stderr.endLine();
  };
  const once = (end: Ending): Once => ({ end, wallTimeLeftMs: ctx.models?.ledger().remaining().wall_time_ms, endLines });
  const controller = new AbortController();
  // An instance cancelled by its fan-out's join (section 13) says so, apart from an interruption.
  const onCancel = () => controller.abort(state.signal.reason === 'joined' ? 'joined' : 'cancelled');
  setMaxListeners(0, state.signal); // one per running stage, removed when it ends (see Slots)
  state.signal.addEventListener('abort', onCancel, { once: true });
  if (state.signal.aborted) onCancel();
  const timer = node.timeoutMs === undefined || executor.ownsTimeout ? undefined : setTimeout(() => controller.abort('timeout'), node.timeoutMs);
  // A stage without a timeout still ends when the run's (or its loop's) wall_time is reached.
  const parentScope = node.path.includes('.') ? node.path.slice(0, node.path.lastIndexOf('.')) : '';
  const wall = state.models && WORK_KINDS.has(node.kind) ? watchWallTime(state.models.ledgerFor(parentScope), () => controller.abort('wall_time')) : undefined;
  const streams = {
    stdout: new OutputStream(state, node, 'stdout', where.iteration, retry),
    stderr: new OutputStream(state, node, 'stderr', where.iteration, retry),
  };
  const evalCtx = (): EvalContext => ({
    contexts: { ...(state.contexts as unknown as Record<string, Value>), stages: where.stages, ...loopContexts(where) },
    status: { success: () => true, failure: () => false, cancelled: () => state.signal.aborted },
  });
  const ctx: StageContext = {
    node,
    pipeline: state.pipeline,
    attempt,
    signal: controller.signal,
    render: (value: JsonValue, keyPath) => renderAt(node, keyPath, value, evalCtx()),
    pipelineEnv: state.pipelineEnv,
    processEnv: state.processEnv,
    output: (stream, chunk) => streams[stream].write(chunk),
    logFile: (stream) => state.store.logPath(node.path, stream, where.iteration),
    reuse: state.cache?.options.lookup !== false,
    startProcess: (program, role) => processSpan(state, { stage: node.path, iteration: where.iteration }, program, role),
    toolCall: (call) => tell(state, { type: 'tool_call', stage: node.path, ...(where.iteration !== undefined ? { iteration: where.iteration } : {}), ...call }),
  };
  if (where.iteration !== undefined) ctx.iteration = where.iteration;
  if (node.template) ctx.runTemplate = (params) => runTemplateScope(state, node, controller.signal, params);
  else if (node.body) ctx.runScope = (input) => runNested(state, node, where, controller.signal, input);
  if (state.models && MODEL_SERVICE_KINDS.has(node.kind)) ctx.models = state.models.forStage(node, where.iteration, attempt, controller.signal);
  if (state.approvals) ctx.approvals = state.approvals.forStage(node.path, where.iteration);
  if (state.mcp) ctx.mcp = state.mcp;
  let result: StageResult;
  try {
    result = await executor.run(ctx);
  } catch (err) {
    // An executor reports every failure it knows as a result; a throw is a bug in factory.
    const reason = internalReason(err);
    result = { status: 'error', reason, message: `internal error in the ${node.kind} stage: ${reason.error.message}`, outputs: {} };
  } finally {
    if (timer) clearTimeout(timer);
    wall?.clear();
    state.signal.removeEventListener('abort', onCancel);
    streams.stdout.close();
    streams.stderr.close();
  }
  if (controller.signal.aborted) {
    const exhausted = controller.signal.reason === 'wall_time' ? wall?.exhausted() : undefined;
    if (exhausted && state.models) {
      return once({ status: 'error', reason: budgetReason(exhausted), message: `${state.models.describeExhausted(exhausted, false)}; the stage was stopped`, outputs: result.outputs });
    }
    if (controller.signal.reason === 'timeout') {
      return once({ status: 'error', reason: { kind: 'timeout', afterMs: node.timeoutMs ?? 0 }, message: `timed out after ${durationAsWritten(node.timeoutMs ?? 0)}`, outputs: result.outputs });
    }
    if (controller.signal.reason === 'joined') {
      return once({ status: 'cancelled', reason: { kind: 'joined', join: 'first_success' }, message: 'cancelled: another instance succeeded first', outputs: result.outputs });
    }
    return once({ status: 'cancelled', reason: { kind: 'cancelled' }, message: 'interrupted', outputs: result.outputs });
  }
  return once(result);
}
