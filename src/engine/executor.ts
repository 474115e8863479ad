import type { Iteration } from '../records/iteration.js';
import type { McpServers } from '../agent/tools/mcp-servers.js';
import type { StageKind } from '../config/pipeline.js';
import type { JsonValue, Pipeline, StageNode } from '../config/pipeline.js';
import type { StageStatus, StartProcess } from '../records/events.js';
import type { Place, Reason } from '../records/reasons.js';
import type { Value } from '../expr/index.js';
import type { StageApprovals } from './approvals/approvals.js';
import type { Usage } from '../base/usage.js';
import type { ModelServices } from './models/services.js';

/**
 * The one signature every stage kind implements. An executor does the stage's work and says how
 * it ended; it never prints, never writes records and never decides about retries or `if`:
 * the scheduler does. A new kind is one file exporting a `StageExecutor` plus one registry line.
 */
/** One executor for each kind of stage; the CLI passes stages/registry.ts's to runPipeline. */
export type StageExecutors = Readonly<Record<StageKind, StageExecutor>>;

export interface StageExecutor {
  /** Whether the stage takes one of the run's concurrency slots (loop, pipeline and approve do not). */
  readonly holdsSlot: boolean;
  /** The executor applies the stage's `timeout` itself (scenario-validate: per scenario), so the scheduler does not. */
  readonly ownsTimeout?: boolean;
  run(ctx: StageContext): Promise<StageResult>;
}

/** How a stage ended, as its executor sees it. `cancelled` and `timeout` are set by the scheduler. */
export interface StageResult {
  status: Exclude<StageStatus, 'skipped' | 'cancelled'>;
  /** Why it did not succeed, with its data; the record keeps its name beside `message`. */
  reason?: Reason;
  message?: string;
  outputs: Record<string, JsonValue>;
  usage?: Usage;
  cost_usd?: number;
}

/** A value of the stage's definition rendered with the run-time contexts; a failure says where the expression is written. */
export type Rendered = { ok: true; value: JsonValue } | { ok: false; message: string; at?: Place };

export interface StageContext {
  node: StageNode;
  pipeline: Pipeline;
  /** 1 for the first attempt. */
  attempt: number;
  /** Inside a loop body: the loop's iteration (1-based). */
  iteration?: Iteration;
  /** Aborted when the attempt times out or the run is interrupted; kill what runs and return. */
  signal: AbortSignal;
  /**
   * Renders a value written under the stage at `keyPath` (e.g. ['env', 'TOKEN']) with the
   * contexts the stage may read. A failure message already names file:line:col.
   */
  render(value: JsonValue, keyPath: readonly (string | number)[]): Rendered;
  /** The pipeline's top-level `env:` rendered to text, or the message of the first that failed. */
  pipelineEnv: { ok: true; value: Readonly<Record<string, string>> } | { ok: false; message: string };
  /** The environment factory itself was started with. */
  processEnv: Readonly<NodeJS.ProcessEnv>;
  /** Streams output into the record (full text) and to the event sink (capped chunks). */
  output(stream: 'stdout' | 'stderr', chunk: Uint8Array): void;
  /** Where the full output of each stream is kept, for messages. */
  logFile(stream: 'stdout' | 'stderr'): string;
  /** Model calls (numbered, budgeted, charged, recorded), for plan, generate, review and judges. */
  models?: ModelServices;
  /** False under `--no-cache`: nothing is reused from earlier runs, a judge's verdicts included. */
  reuse: boolean;
  /**
   * A stage with a nested scope (a loop) runs one iteration of its body through the scheduler:
   * same rules as the top level (needs, if, statuses, slots), recorded under that iteration.
   */
  runScope?(input: NestedScopeInput): Promise<NestedScopeResult>;
  /** A pipeline stage runs its template once with these params (its `with`, rendered and typed). */
  runTemplate?(params: Record<string, JsonValue>): Promise<NestedScopeResult>;
  /** Questions to humans (approve stages): answered in advance, on the terminal or by `factory approve`. */
  approvals?: StageApprovals;
  /** The run's MCP servers, when the pipeline has `mcp_servers`. */
  mcp?: McpServers;
  /** Tells the run about each program the stage starts: what to add to its env (its TRACEPARENT), and how it ended (docs/telemetry.md). */
  startProcess?: StartProcess;
  /** Tells the run about one tool call of the stage's agent, when it returned. */
  toolCall?(call: { tool: string; call_id: string; duration_ms: number; error: boolean }): void;
}

export interface NestedScopeInput {
  /** 1-based. */
  iteration: number;
  /** The `loop` context the body's expressions read. */
  loop: Value;
}

export interface NestedOutcome {
  status: StageStatus | 'running';
  reason?: Reason;
  message?: string;
  outputs: Record<string, JsonValue>;
  continueOnError: boolean;
  usage?: Usage;
  cost_usd?: number;
}

export interface NestedScopeResult {
  /** Each body stage's end, by id. */
  outcomes: Map<string, NestedOutcome>;
  /** The contexts after the iteration, as a body stage reads them, with the body's stages added: what `until` reads. */
  contexts: Record<string, Value>;
}
