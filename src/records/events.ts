import type { JsonValue, StageKind } from '../config/pipeline.js';
import type { Usage } from '../base/usage.js';
import type { ReasonName } from './reasons.js';
import type { Iteration } from './iteration.js';
import type { RunStatus, StageStatus } from '../config/generated/run.js';

/** The names of statuses are schemas/run.schema.json's (the generated types), as are reasons' (reasons.ts checks its union against them). */
export type { RunStatus, StageStatus } from '../config/generated/run.js';

/**
 * Everything the engine tells the outside world, as one discriminated union. Renderers
 * (src/ui) and the run store subscribe; executors emit through their context. `--json` prints
 * these objects one per line, so their fields are a public contract (docs/running.md).
 */

/** One choice of an approve stage (docs/human-gates.md). */
export interface ChoiceOption {
  id: string;
  label: string;
  description?: string;
}

interface Base {
  time: string;
  run: string;
}

interface StageRef {
  stage: string;
  /** Set inside a loop body (the chain of iterations in nested loops); never part of the path. */
  iteration?: Iteration;
}

/**
 * Everything the engine tells the outside world, as one discriminated union. Renderers
 * (src/ui) and the run store subscribe; executors emit through their context. `--json` prints
 * these objects one per line, so their fields are a public contract (docs/running.md).
 */
export type EngineEvent =
  | (Base & { type: 'run_started'; name: string; file: string; dir: string; resumed: boolean; stages: { path: string; kind: StageKind; needs: string[]; /** A loop's max_iterations (renderers show "iteration 2/4"). */ max_iterations?: number }[] })
  | (Base & StageRef & { type: 'stage_started'; kind: StageKind; attempt: number; /** A fan-out instance's values: `approach=refactor`. */ values?: string })
  | (Base & StageRef & { type: 'stage_output'; stream: 'stdout' | 'stderr'; chunk: string })
  | (Base & StageRef & {
      type: 'model_call';
      model: string;
      usage: Usage;
      cost_usd: number;
      /** Addition to docs/running.md: the call's id within the run, which journal-only `model_usage` events of the same call carry too. */
      call_id?: string;
      /** Addition: the call failed (after the provider's retries) or was refused; what it had cost is in `usage`. */
      error?: string;
      /** Addition: the provider that answered (`anthropic`, `replay`…), the model it says answered, and how long the call took (traces' span times). */
      provider?: string;
      response_model?: string;
      duration_ms?: number;
    })
  | (Base & StageRef & { type: 'budget_warning'; budget: string; spent: number; limit: number })
  | (Base & StageRef & {
      type: 'approval_waiting';
      message: string;
      command: string;
      /** Addition to docs/running.md: the values shown beside the message (`show`; for a budget question: spent, the raise, what comes next). */
      show?: { label: string; value: JsonValue }[];
      /** An approve stage's choices (`options`), answered with `--choice ID`. */
      options?: ChoiceOption[];
    })
  | (Base & StageRef & {
      type: 'stage_finished';
      status: StageStatus;
      /** The name of the stage's typed Reason (records/reasons.ts); its data is told in `message`. */
      reason?: ReasonName;
      message?: string;
      cached: boolean;
      /** Taken as it stood in the run's record (--resume, --only), not run now. */
      kept?: boolean;
      duration_ms: number;
      usage: Usage;
      cost_usd: number;
    })
  | (Base & {
      type: 'watch_change';
      paths: string[];
      /** Addition to docs/running.md: the stages the rerun will not take from the cache (as `plan` predicts them); absent when the file is invalid. */
      rerun?: string[];
    })
  | (Base & StageRef & {
      /** Addition (traces, docs/telemetry.md): one tool call of an agent, told when it returned. Not journaled: the transcript keeps it. */
      type: 'tool_call';
      tool: string;
      call_id: string;
      duration_ms: number;
      /** The tool answered with an error (`is_error` in the transcript). */
      error: boolean;
    })
  | (Base & Partial<StageRef> & {
      /**
       * Addition (traces, docs/telemetry.md): a program factory started and saw end — a command
       * stage's, a scenario step's, run_command's, an external agent's, an MCP server's (no stage:
       * it serves the run). Not journaled: the stage's record tells how it ended.
       */
      type: 'process';
      /** The program (its file name, not its arguments, which may hold anything). */
      program: string;
      /** What started it: `command`, `step`, `run_command`, `agent` or `mcp`. */
      role: ProcessRole;
      exit_code: number | null;
      signal?: string;
      /** It could not start (the system's code: ENOENT…). */
      error?: string;
      duration_ms: number;
      /** The TRACEPARENT it was given, when the run is traced: its span's id is in it. */
      traceparent?: string;
    })
  | (Base & { type: 'run_finished'; status: RunStatus; exit_code: number; duration_ms: number; usage: Usage; cost_usd: number; record: string });

export type EngineEventType = EngineEvent['type'];

export type ProcessRole = 'command' | 'step' | 'run_command' | 'agent' | 'mcp';

/** Events told to the sink only, never journaled (the records keep what they say elsewhere). */
export type TraceEvent = Extract<EngineEvent, { type: 'tool_call' | 'process' }>;

/**
 * A program about to start, as its starter tells the run: `env` is what to add to the program's
 * environment (its TRACEPARENT when the run is traced, else nothing); `end` tells how it ended.
 */
export interface ProcessSpan {
  readonly env: Readonly<Record<string, string>>;
  end(how: { exitCode?: number | null | undefined; signal?: string | undefined; error?: string | undefined }): void;
}

/** The trace a run belongs to (W3C trace context): its processes' TRACEPARENTs are made from it. */
export interface TraceContext {
  /** 32 hex digits. */
  traceId: string;
  /** The trace flags, 2 hex digits (`01`: sampled). */
  flags: string;
}

export type StartProcess = (program: string, role: ProcessRole) => ProcessSpan;

/**
 * Events the journal keeps but `--json` does not print: spending as soon as the provider reports
 * it (so a run killed mid-call keeps what it paid), and answers received (so `--resume` never
 * asks for them again). Both are folded by `foldSpend` (records/spend.ts).
 */
export type ModelJournalEvent =
  | (Base & StageRef & { type: 'model_usage'; call_id: string; model: string; usage: Usage; cost_usd: number })
  | (Base & StageRef & { type: 'model_answer'; call_id: string; key: string; request_hash: string; message: unknown });

export interface EventSink {
  emit(event: EngineEvent): void;
}
