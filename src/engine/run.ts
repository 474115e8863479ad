import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { McpServers } from '../agent/tools/mcp-servers.js';
import { redactor } from '../providers/redact.js';
import type { Pipeline, Scope, StageKind } from '../config/pipeline.js';
import { stageCounts } from '../records/describe.js';
import { describeFsError } from '../base/fs-error.js';
import { acquireLock, waitForRunLock } from '../records/lock.js';
import { factoryDir } from '../records/paths.js';
import { latestRunId, loadRun } from '../records/read.js';
import { checkRunId, newRunId } from '../records/run-id.js';
import { readJournalEvents } from '../records/journal.js';
import { foldSpend, type PriorSpend } from '../records/spend.js';
import { defaultWriter, RunStore } from '../records/store.js';
import type { StageFile } from '../records/types.js';
import { Approvals, type ApprovalPrompt } from './approvals/approvals.js';
import { retryBaseMs } from '../base/backoff.js';
import { budgetContext, renderPipelineEnv, type RunContexts } from './contexts.js';
import type { EventSink, TraceContext } from '../records/events.js';
import { processSpan } from './process-spans.js';
import { runOutcome } from './outcome.js';
import { ModelRuntime } from './models/models.js';
import { joinRecords } from './patches/patches-run.js';
import { predictedHits } from './cache/predict.js';
import { RunCache } from './cache/run-cache.js';
import { runScope } from './schedule/scheduler.js';
import { selectStages, unknownOnly, type Selection } from './schedule/selection.js';
import { Slots } from './schedule/slots.js';
import type { StageExecutors } from './executor.js';
import type { Outcome } from './stage-record.js';
import { emit, journal, type RunState } from './state.js';
import type { WorkspaceHooks } from '../workspace/tracker.js';
import { removeCopy } from '../workspace/isolate.js';
import { workDir } from '../records/paths.js';
import type { RunSummary, StageSummary } from './summary.js';
import { stopSandbox } from '../process/sandbox-runtime.js';
import type { ModelFlags } from './models/services.js';
import { prepareModels, type PreparedModels } from './models/preflight.js';

export interface RunOptions {
  sink: EventSink;
  /** What runs each kind of stage: stages/registry.ts's stageExecutors. */
  executors: StageExecutors;
  /** Aborting it interrupts the run: running stages are killed and recorded `cancelled`. */
  signal?: AbortSignal;
  /** `--run-id`. */
  runId?: string;
  /** `--resume` (true: the latest run) or `--resume=RUN`. */
  resume?: true | string;
  /** `--only`: stage ids. */
  only?: readonly string[];
  /** The environment commands inherit; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** `--provider`, `--replay FILE`, `--record FILE`. */
  models?: ModelFlags;
  /** Where file names in messages are shown relative to; default process.cwd(). */
  cwd?: string;
  /** `--approve`: paths of approve stages answered in advance (see resolveApproveIds). */
  approve?: readonly string[];
  /** The terminal prompt for approvals, when a human sits at this terminal. */
  prompt?: ApprovalPrompt;
  /** `--no-cache`: run every stage (results are still stored for the next run). */
  noCache?: boolean;
  /** Watch mode: the run's own writes, reported after every stage that may write files. */
  workspaceHooks?: WorkspaceHooks;
  /** `--keep-work`: isolated fan-out instances' copies stay in `.factory/work/<run>/`. */
  keepWork?: boolean;
  /** The run is traced (docs/telemetry.md): every process started gets a TRACEPARENT in this trace. */
  trace?: TraceContext;
}

/** A run that could not start: the lock is held, the record cannot be written, a bad option. */
export interface RunRefused {
  ok: false;
  message: string;
  exitCode: number;
}

export type RunResult = { ok: true; summary: RunSummary } | RunRefused;

const refuse = (message: string, exitCode = 2): RunRefused => ({ ok: false, message, exitCode });

/**
 * One apply: pick or create the run record, take the workspace lock, run the top scope, derive
 * run.json, release the lock. Emits EngineEvents; never prints.
 */
export async function runPipeline(pipeline: Pipeline, options: RunOptions): Promise<RunResult> {
  const signal = options.signal ?? new AbortController().signal;
  const workspace = pipeline.dir;
  if (options.only) {
    const unknown = unknownOnly(pipeline.root, options.only);
    if (unknown.length) return refuse(unknown.join('\n'));
  }
  const picked = pickRun(workspace, options);
  if (!picked.ok) return picked;
  const { id, previous } = picked;

  try {
    mkdirSync(factoryDir(workspace), { recursive: true });
  } catch (err) {
    return refuse(`cannot write the run record: ${describeFsError(err, factoryDir(workspace))}`, 1);
  }
  // A refusal says how far the run holding the lock has got, from its journal.
  const progress = (run: string): string | undefined => {
    const loaded = loadRun(workspace, run);
    return loaded.ok ? stageCounts(loaded.record.stages) : undefined;
  };
  let lock = acquireLock(workspace, id, progress);
  let record = previous;
  if (!lock.ok && options.runId !== undefined && lock.holder?.run === id) {
    // Another job of this distributed run works in this folder (a shared volume): take turns,
    // then read the record again, with what that job added.
    lock = await waitForRunLock(workspace, id, signal);
    if (lock.ok) {
      const again = pickRun(workspace, options);
      if (!again.ok) {
        lock.release();
        return again;
      }
      record = again.previous;
    }
  }
  if (!lock.ok) return refuse(lock.message, lock.holder ? 2 : 1);
  try {
    return await runLocked(pipeline, options, signal, id, record);
  } finally {
    // The sandbox's proxies, if a stage started them, would keep factory running.
    await stopSandbox();
    lock.release();
  }
}

type Picked = { ok: true; id: string; previous: { startedAt: string; stages: StageFile[] } | undefined } | RunRefused;

function pickRun(workspace: string, options: RunOptions): Picked {
  if (options.runId !== undefined) {
    const bad = checkRunId(options.runId);
    if (bad) return refuse(`--run-id: ${bad}`);
  }
  if (options.resume === undefined) {
    const id = options.runId ?? newRunId();
    const existing = options.runId !== undefined ? loadRun(workspace, id) : undefined;
    if (existing?.ok || (existing && existing.unreadable)) {
      return refuse(`run "${id}" already has a record${existing.ok ? '' : ` (${existing.error})`}; add --resume to continue it, or choose another --run-id`);
    }
    return { ok: true, id, previous: undefined };
  }
  if (typeof options.resume === 'string' && options.runId !== undefined && options.resume !== options.runId) {
    return refuse(`--resume=${options.resume} and --run-id ${options.runId} name different runs; give one of them`);
  }
  const named = typeof options.resume === 'string' ? options.resume : options.runId;
  const id = named ?? latestRunId(workspace);
  if (id === undefined) return refuse('--resume: there is no run to resume in this directory yet; run `factory apply` first');
  const bad = checkRunId(id);
  if (bad) return refuse(`--resume: ${bad}`);
  const loaded = loadRun(workspace, id);
  if (!loaded.ok) {
    // A record that cannot be read is never replaced by a new one, nor by an older run.
    if (loaded.unreadable) return refuse(`--resume: the record of run ${id} cannot be read: ${loaded.error}`);
    // Resuming a --run-id that has no record yet starts it (jobs on several machines share one id).
    if (options.runId !== undefined) return { ok: true, id, previous: undefined };
    return refuse(`--resume: ${loaded.error}`);
  }
  return { ok: true, id, previous: { startedAt: loaded.record.started_at, stages: loaded.stages } };
}

async function runLocked(
  pipeline: Pipeline,
  options: RunOptions,
  signal: AbortSignal,
  id: string,
  previous: { startedAt: string; stages: StageFile[] } | undefined,
): Promise<RunResult> {
  const started = Date.now();
  const startedAt = previous?.startedAt ?? new Date(started).toISOString();
  const record = previous ? new Map(previous.stages.filter((s) => s.iteration === undefined).map((s) => [s.path, s])) : undefined;
  const selection = selectStages(pipeline.root, record, options.only);
  // Providers, keys, models, cassettes and prices are checked before any stage starts.
  const prepared = await prepareModels(pipeline, {
    flags: options.models ?? {},
    env: options.env ?? process.env,
    signal,
    planned: selection.planned,
    keepRecorded: previous !== undefined,
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    // Stages the cache will answer call no model: their models are not asked for (docs/cache-and-watch.md).
    ...(options.noCache ? {} : { skipPreflight: predictedHits(pipeline) }),
  });
  if (!prepared.ok) return refuse(prepared.message, 2);
  // A job of an exported workflow writes the journal named after its stage (docs/export.md).
  const writer = options.only && options.runId !== undefined ? options.only.join('+') : defaultWriter();
  const opened = RunStore.open(pipeline.dir, { id, name: pipeline.name, status: 'running', exit_code: null, started_at: startedAt, ended_at: null }, previous?.stages ?? [], writer);
  if (!opened.ok) return refuse(opened.error, 1);
  const store = opened.store;
  store.order(pipeline.root.stages.map((s) => s.path));

  const { state, prior } = newRunState(pipeline, options, { signal, id, store, models: prepared.models, previous });
  // Records from other machines: budgets start from what they spent, their file changes are applied.
  const joined = joinRecords(state, { selection, only: options.only, track: options.runId !== undefined, spentCounted: (prior?.entries.length ?? 0) > 0 });
  if (!joined.ok) {
    store.setMeta({ status: 'error', exit_code: 2, ended_at: new Date().toISOString() });
    store.finish();
    store.close();
    return refuse(joined.message, 2);
  }

  announce(state, selection.kept, previous !== undefined);

  const servers = pipeline.config.mcp_servers;
  if (servers && Object.keys(servers).length > 0) {
    const env = options.env ?? process.env;
    state.mcp = new McpServers({ servers, dir: pipeline.dir, logDir: path.join(store.dir, 'mcp'), env, redact: redactor(env), startProcess: (program, role) => processSpan(state, {}, program, role) });
  }
  let outcomes: Awaited<ReturnType<typeof runScope>>;
  try {
    outcomes = await runScope(state, { scope: pipeline.root, planned: selection.planned, kept: selection.kept });
  } finally {
    // Interrupted or not, no server outlives the run.
    await state.mcp?.close();
    // Nor does any isolated copy of the workspace, unless asked for (section 13).
    if (options.keepWork !== true) await removeCopy(workDir(pipeline.dir, id)).catch(() => undefined);
  }
  state.cache?.close();

  return finishRun(state, { selection, outcomes, started, startedAt, resumed: previous !== undefined });
}

/** The state of one run: contexts, approvals, the cache, the model services and their ledgers. */
function newRunState(
  pipeline: Pipeline,
  options: RunOptions,
  opened: { signal: AbortSignal; id: string; store: RunStore; models: PreparedModels; previous: { stages: StageFile[] } | undefined },
): { state: RunState; prior: PriorSpend | undefined } {
  const { signal, id, store, previous } = opened;
  const env = options.env ?? process.env;
  const run: RunContexts['run'] = { id, dir: store.dir };
  const state: RunState = {
    pipeline,
    executors: options.executors,
    runId: id,
    store,
    sink: options.sink,
    slots: new Slots(Math.max(1, pipeline.concurrency)),
    signal,
    contexts: { params: { ...pipeline.params }, env: {}, run, budget: budgetContext(pipeline) },
    pipelineEnv: renderPipelineEnv(pipeline, run),
    processEnv: env,
    retryBaseMs: retryBaseMs(env),
    ...(options.trace ? { trace: options.trace } : {}),
  };
  if (state.pipelineEnv.ok) state.contexts.env = { ...state.pipelineEnv.value };
  if (previous) state.previousStages = new Map(previous.stages.filter((s) => s.iteration === undefined).map((s) => [s.path, s]));
  state.approvals = new Approvals({
    runId: id,
    runDir: store.dir,
    workspace: pipeline.dir,
    cwd: options.cwd ?? process.cwd(),
    advance: new Set(options.approve ?? []),
    prompt: options.prompt,
    env,
    emit: (event) => emit(state, event),
    // An approve stage stops the wall clocks of its loop and the run while it waits.
    pauseAround: (stagePath) => {
      const ledger = state.models?.ledgerFor(stagePath.includes('.') ? stagePath.slice(0, stagePath.lastIndexOf('.')) : '');
      ledger?.pause();
      return () => ledger?.resume();
    },
  });
  state.cache = new RunCache(pipeline, id, {
    lookup: options.noCache !== true,
    ...(options.workspaceHooks ? { hooks: options.workspaceHooks } : {}),
    ...(options.models?.record !== undefined ? { ownFiles: [path.resolve(options.cwd ?? process.cwd(), options.models.record)] } : {}),
  });
  const tracker = state.cache.tracker;
  // A resumed (or joined) run starts its ledgers from all its journals say it spent, and reuses the answers they hold.
  const earlier = previous ? readJournalEvents(store.dir) : [];
  store.carrySpend(earlier);
  const prior = previous ? foldSpend(earlier) : undefined;
  state.models = new ModelRuntime(opened.models, {
    snapshots: { runStart: () => tracker.runStart(), now: () => tracker.fresh() },
    approvals: state.approvals,
    emit: (event) => emit(state, event),
    journal: (event) => journal(state, event),
    ...(prior ? { prior } : {}),
    onSpend: (budget) => {
      state.contexts.budget = budget;
    },
    recordDir: store.dir,
  });
  state.contexts.budget = state.models.runLedger.context();
  return { state, prior };
}

/** `run_started`, then a `stage_finished` for each stage kept from the record of a resumed run. */
function announce(state: RunState, kept: Selection['kept'], resumed: boolean): void {
  const { pipeline, runId: id } = state;
  emit(state, {
    type: 'run_started',
    name: pipeline.name,
    file: pipeline.file,
    dir: pipeline.dir,
    resumed,
    stages: announced(pipeline.root),
  });
  for (const [sid, file] of kept) {
    emit(state, {
      type: 'stage_finished',
      stage: pipeline.root.byId.get(sid)?.path ?? sid,
      status: file.status === 'running' ? 'cancelled' : file.status,
      ...(file.reason ? { reason: file.reason } : {}),
      message: `kept from the record of run ${id}${file.message ? `: ${file.message}` : ''}`,
      cached: false,
      kept: true,
      duration_ms: file.started_at && file.ended_at ? Math.max(0, Date.parse(file.ended_at) - Date.parse(file.started_at)) : 0,
      usage: file.usage,
      cost_usd: file.cost_usd,
    });
  }

}

/** The run's outcome from the stages it counts, written to the record and told as `run_finished`; the summary for the CLI. */
function finishRun(
  state: RunState,
  run: { selection: Selection; outcomes: Map<string, Outcome>; started: number; startedAt: string; resumed: boolean },
): RunResult {
  const { pipeline, store, signal, runId: id } = state;
  const { selection, outcomes, started, startedAt } = run;
  const counted = [...outcomes].filter(([sid]) => selection.counted.has(sid)).map(([, o]) => o);
  const recordError = state.stopping?.record ? state.stopping.message : undefined;
  const result = runOutcome(counted, signal.aborted, recordError !== undefined);
  const ended = Date.now();
  store.setMeta({ status: result.status, exit_code: result.exit_code, ended_at: new Date(ended).toISOString() });
  const closed = store.finish();
  const error = recordError ?? (closed.ok ? undefined : `the run record cannot be written: ${closed.error}`);
  const final = error && result.exit_code === 0 ? { status: 'error' as const, exit_code: 1 } : result;
  const rec = store.record();
  emit(state, { type: 'run_finished', status: final.status, exit_code: final.exit_code, duration_ms: ended - started, usage: rec.usage, cost_usd: rec.cost_usd, record: store.dir });
  store.close();

  const summary: RunSummary = {
    run: id,
    name: pipeline.name,
    file: pipeline.file,
    status: final.status,
    exit_code: final.exit_code,
    started_at: startedAt,
    ended_at: new Date(ended).toISOString(),
    duration_ms: ended - started,
    record: store.dir,
    resumed: run.resumed,
    stages: pipeline.root.stages.filter((s) => outcomes.has(s.id)).map((s) => stageSummary(s.path, s.kind, outcomes.get(s.id)!)),
    usage: rec.usage,
    cost_usd: rec.cost_usd,
  };
  if (error) summary.error = error;
  return { ok: true, summary };
}

/** Every stage for run_started, a loop's body after the loop, with the loop's max_iterations. */
function announced(scope: Scope): { path: string; kind: StageKind; needs: string[]; max_iterations?: number }[] {
  return scope.stages.flatMap((s) => {
    const max = (s.def as { max_iterations?: unknown }).max_iterations;
    const own = { path: s.path, kind: s.kind, needs: [...s.needs], ...(s.kind === 'loop' && typeof max === 'number' ? { max_iterations: max } : {}) };
    return s.body ? [own, ...announced(s.body)] : [own];
  });
}

function stageSummary(path: string, kind: StageSummary['kind'], o: Outcome): StageSummary {
  const s: StageSummary = { path, kind, status: o.status, duration_ms: o.durationMs, attempts: o.attempts, cached: o.cached === true, kept: o.kept };
  if (o.reasonName) s.reason = o.reasonName;
  if (o.message) s.message = o.message;
  return s;
}
