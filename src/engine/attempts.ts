import type { JsonValue, StageNode } from '../config/pipeline.js';
import type { EvalContext, Value } from '../expr/index.js';
import type { StageContext, StageExecutor, StageResult } from '../stages/types.js';
import { retryDelayMs, sleep } from './backoff.js';
import { formatDuration } from './durations.js';
import type { Reason } from './events.js';
import { renderAt } from './expressions.js';
import { OutputStream, type RetryMark } from './output-stream.js';
import { recordEnd, recordStart, type Ending, type Outcome } from './stage-record.js';
import { runNested, runTemplateScope } from './nested.js';
import { checkRecord } from './state.js';
import type { RunState } from './state.js';

/** Errors worth another attempt: the stage could not start, timed out, or its provider failed. */
const RETRYABLE: ReadonlySet<Reason> = new Set(['spawn', 'timeout', 'provider']);
/** Kinds whose executors get model services (a loop: for its ledger). */
const MODEL_SERVICE_KINDS: ReadonlySet<string> = new Set(['plan', 'generate', 'review', 'scenario-validate', 'loop']);

export interface Where {
  /** The `stages` context the stage sees (finished stages of its scope and the enclosing ones). */
  stages: Record<string, Value>;
  iteration?: number;
  /** Inside a loop body: the `loop` context. */
  loop?: Value;
  /** The stage's fingerprint (SPEC section 9), recorded with its end. */
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
    const retry = end.status === 'error' && end.reason !== undefined && RETRYABLE.has(end.reason) && attempt <= node.retries;
    if (!retry || state.signal.aborted) break;
    const how = `${end.message ?? 'error'} (reason ${end.reason})`;
    earlier.push(`attempt ${attempt} of ${node.retries + 1} ended in error: ${how}`);
    previous = how;
    once.endLines();
    if (!(await sleep(retryDelayMs(state.retryBaseMs, attempt), state.signal))) {
      end = { status: 'cancelled', reason: 'cancelled', message: 'interrupted while waiting to retry', outputs: end.outputs };
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
  // Stop starting stages at once, before this stage's slot goes to a waiting one (SPEC section 3).
  if (end.status === 'error' && !node.continueOnError) {
    state.stopping ??= { path: node.path, message: `stage "${node.path}" ended in error (${end.reason ?? 'error'})`, record: false };
  }
  // Dependants start only once this stage's end is on disk: a run that dies later never has to
  // redo it, and a record that cannot be written stops the run before anything else starts.
  await state.store.written(node.path, where.iteration);
  checkRecord(state);
  return outcome;
}

interface Once {
  end: Ending;
  /** Ends the attempt's partial output lines in the events (it is about to be retried). */
  endLines(): void;
}

async function runOnce(
  state: RunState,
  node: StageNode,
  executor: StageExecutor,
  where: Where,
  attempt: number,
  retry: RetryMark | undefined,
): Promise<Once> {
  const controller = new AbortController();
  const onCancel = () => controller.abort('cancelled');
  state.signal.addEventListener('abort', onCancel, { once: true });
  if (state.signal.aborted) onCancel();
  const timer = node.timeoutMs === undefined || executor.ownsTimeout ? undefined : setTimeout(() => controller.abort('timeout'), node.timeoutMs);
  const streams = {
    stdout: new OutputStream(state, node, 'stdout', where.iteration, retry),
    stderr: new OutputStream(state, node, 'stderr', where.iteration, retry),
  };
  const evalCtx = (): EvalContext => ({
    contexts: { ...(state.contexts as unknown as Record<string, Value>), stages: where.stages, ...(where.loop === undefined ? {} : { loop: where.loop }) },
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
  };
  if (where.iteration !== undefined) ctx.iteration = where.iteration;
  if (node.template) ctx.runTemplate = (params) => runTemplateScope(state, node, controller.signal, params);
  else if (node.body) ctx.runScope = (input) => runNested(state, node, where, controller.signal, input);
  if (state.models && MODEL_SERVICE_KINDS.has(node.kind)) ctx.models = state.models.forStage(node, where.iteration, attempt, controller.signal);
  if (state.approvals) ctx.approvals = state.approvals.forStage(node.path, where.iteration);
  let result: StageResult;
  try {
    result = await executor.run(ctx);
  } catch (err) {
    result = { status: 'error', reason: 'spawn', message: `internal error in the ${node.kind} stage: ${(err as Error).message ?? String(err)}`, outputs: {} };
  } finally {
    if (timer) clearTimeout(timer);
    state.signal.removeEventListener('abort', onCancel);
    streams.stdout.close();
    streams.stderr.close();
  }
  const endLines = () => {
    streams.stdout.endLine();
    streams.stderr.endLine();
  };
  if (controller.signal.aborted) {
    if (controller.signal.reason === 'timeout') {
      return { end: { status: 'error', reason: 'timeout', message: `timed out after ${formatDuration(node.timeoutMs ?? 0)}`, outputs: result.outputs }, endLines };
    }
    return { end: { status: 'cancelled', reason: 'cancelled', message: 'interrupted', outputs: result.outputs }, endLines };
  }
  return { end: result, endLines };
}
