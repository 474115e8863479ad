import type { McpServers } from '../agent/tools/mcp-servers.js';
import type { StageExecutors } from './executor.js';
import type { Pipeline } from '../config/pipeline.js';
import type { Approvals } from './approvals/approvals.js';
import type { RunStore } from '../records/store.js';
import type { PipelineEnv, RunContexts } from './contexts.js';
import type { EngineEvent, EventSink, TraceContext, TraceEvent } from '../records/events.js';
import type { ModelRuntime } from './models/models.js';
import type { RunCache } from './cache/run-cache.js';
import type { Slots } from './schedule/slots.js';
import type { StageFile } from '../records/types.js';

/** Why the run stopped starting new stages (docs/configuration.md). */
export interface Stopping {
  /** The stage that ended in error, or '' for the record. */
  path: string;
  message: string;
  /** The record cannot be written: nothing may start, not even `always()` stages. */
  record: boolean;
}

/** What every scope of one run shares. */
export interface RunState {
  pipeline: Pipeline;
  executors: StageExecutors;
  runId: string;
  store: RunStore;
  sink: EventSink;
  slots: Slots;
  /** Aborted when the run is interrupted (SIGINT, SIGTERM, watch). */
  signal: AbortSignal;
  contexts: RunContexts;
  pipelineEnv: PipelineEnv;
  processEnv: Readonly<NodeJS.ProcessEnv>;
  retryBaseMs: number;
  stopping?: Stopping;
  /** Providers, budget ledgers and per-stage model services. */
  models?: ModelRuntime;
  /** Fingerprints, the stage cache and the workspace snapshots (docs/cache-and-watch.md). */
  cache?: RunCache;
  /** Questions to humans: approve stages and `on_exhausted: ask`. */
  approvals?: Approvals;
  /** The run's MCP servers (`mcp_servers`), started on first use, stopped when the run ends. */
  mcp?: McpServers;
  /** A resumed run's record, by path (stages in no loop): what fan-out instances keep (section 13). */
  previousStages?: ReadonlyMap<string, StageFile>;
  /** Set when the run is traced (docs/telemetry.md): each process started gets a TRACEPARENT of this trace. */
  trace?: TraceContext;
}

type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Tells the outside world, after appending the event to the run's journal (docs/cache-and-watch.md). */
export function emit(state: RunState, event: Without<EngineEvent, 'time' | 'run'>): void {
  const full = { time: new Date().toISOString(), run: state.runId, ...event };
  state.store.append(full);
  state.sink.emit(full);
}

/** Tells the sink only: tool calls and processes, which the records keep elsewhere (transcripts, stage records). */
export function tell(state: RunState, event: Without<TraceEvent, 'time' | 'run'>): void {
  state.sink.emit({ time: new Date().toISOString(), run: state.runId, ...event });
}

/**
 * Appends an event only the journal keeps (`stage_outputs`, `model_answer`…): readers of the
 * record see it, `--json` does not print it.
 */
export function journal(state: RunState, event: { type: string; [field: string]: unknown }): void {
  state.store.append({ time: new Date().toISOString(), run: state.runId, ...event });
}

/** Notes a failed record write: the run stops starting stages and ends in error. */
export function checkRecord(state: RunState): void {
  const error = state.store.error;
  if (error && !state.stopping?.record) state.stopping = { path: '', message: `the run record cannot be written: ${error}`, record: true };
}
