import { unreachable } from '../base/unreachable.js';
import type { Reason as RecordedReason } from '../config/generated/run.js';

/**
 * Why a stage is not `succeeded`, as a typed value carrying its data. Executors and the
 * scheduler build these; the record and the `--json` events keep only the name (`reason`) beside
 * a `message` (reasonName, at the boundary in engine/stage-record.ts), so a new variant is one
 * line here and fails to compile until every switch over reasons handles it.
 */
export type Reason =
  /** The program (a command, an external agent) ran and exited with a code its stage does not accept, or was killed by `signal` (code null). */
  | { kind: 'exit_code'; code: number | null; signal?: string }
  /** The program could not be started (missing, not executable, missing cwd, an empty `agent.run`). */
  | { kind: 'spawn'; program: string }
  /** The stage (or an external agent) ran longer than its `timeout`. */
  | { kind: 'timeout'; afterMs: number }
  /** An expression failed at run time; `at` is where it is written, when known. */
  | { kind: 'expression'; at?: Place }
  /** The model provider failed after its own retries: `cause` is the provider error's kind (`overloaded`, `network`…), `status` the HTTP status when there was one. */
  | { kind: 'provider'; cause: string; status?: number; retryAfterMs?: number }
  /** A budget is exhausted or cannot pay for the next model call. */
  | { kind: 'budget'; budget: 'tokens' | 'cost_usd' | 'wall_time'; scope: string; spent: number; limit: number; needed?: number }
  /** The agent's tool calls failed more than `max_tool_errors` times. */
  | { kind: 'tool_errors'; count: number; limit: number }
  /** The agent was still working after `max_turns` model calls. */
  | { kind: 'max_turns'; turns: number }
  /** A review did not approve, or its answer was malformed twice. */
  | { kind: 'review'; malformed: boolean }
  /** The scenarios' satisfaction (0 to 1) is below the stage's `threshold`. */
  | { kind: 'threshold'; satisfaction: number; threshold: number }
  /** A loop's `until` stayed false for `iterations`. */
  | { kind: 'not_converged'; iterations: number }
  /** A human (or an approval's `on_timeout: reject`) said no. */
  | { kind: 'rejected' }
  /** Not run because `need` did not succeed, or the run stopped starting stages. */
  | { kind: 'needs'; need?: string }
  /** Not run because its `if` was false. */
  | { kind: 'if'; condition: string }
  /** Interrupted (Ctrl-C, SIGTERM, watch) before or while it ran. */
  | { kind: 'cancelled' }
  /** The stage's definition cannot run as written (a missing model, a refused path, a cassette without the answer). */
  | { kind: 'config' }
  /** Addition: a command with `parse: json` whose stdout is not JSON. */
  | { kind: 'parse' }
  /** An answer cut off at max_tokens, or one that does not match its `output_schema`. */
  | { kind: 'output'; cause: 'max_tokens' | 'schema' }
  /** Addition: a file the stage writes itself (a plan's `write:`) could not be written. */
  | { kind: 'write'; path: string }
  /** File changes that do not apply. */
  | { kind: 'conflict'; paths: string[] }
  /** A fan-out instance cancelled because its join was decided. */
  | { kind: 'joined'; join: string }
  /** A `for_each` list longer than `max_items`. */
  | { kind: 'for_each'; items: number; maxItems: number }
  /** A sandbox that cannot be set up. */
  | { kind: 'sandbox' }
  /** A bug in factory: an exception nothing expected. Never retried; the run exits 70. */
  | { kind: 'internal'; error: Error };

/**
 * The names the record keeps: schemas/run.schema.json's list (the generated `RecordedReason`).
 * The union above must name exactly those: the assignment below fails to compile otherwise.
 */
export type ReasonName = Reason['kind'];
const sameNames: [ReasonName, RecordedReason] extends [RecordedReason, ReasonName] ? true : never = true;
void sameNames;

/** How a model call can fail, as the engine's model services report it to stages, the agent loop and judges. */
export type ModelCallReason = Extract<Reason, { kind: 'provider' | 'budget' | 'cancelled' | 'output' | 'config' }>;

/** Where an expression is written. */
export interface Place {
  file: string;
  line: number;
  column: number;
}

/** Every name once (a Record, so the compiler checks the list against the union), in the order of docs/running.md. */
const NAMES: Record<ReasonName, true> = {
  exit_code: true, spawn: true, timeout: true, expression: true, provider: true, budget: true, tool_errors: true, max_turns: true,
  review: true, threshold: true, not_converged: true, rejected: true, needs: true, if: true, cancelled: true, config: true,
  parse: true, output: true, write: true, conflict: true, joined: true, for_each: true, sandbox: true, internal: true,
};
export const REASON_NAMES = Object.keys(NAMES) as readonly ReasonName[];

/** The name the record and the events keep. */
export function reasonName(reason: Reason): ReasonName {
  return reason.kind;
}

/** A name read back from a record, if it is one. */
export function isReasonName(value: unknown): value is ReasonName {
  return typeof value === 'string' && Object.hasOwn(NAMES, value);
}

/** A budget's figures as a reason (the engine's `Exhausted`: `run` or a stage's path, spent against limit). */
export function budgetReason(exhausted: Omit<Extract<Reason, { kind: 'budget' }>, 'kind'>): Extract<Reason, { kind: 'budget' }> {
  return { kind: 'budget', ...exhausted };
}

/** An unexpected exception as a reason: whatever was thrown, kept as an Error. */
export function internalReason(thrown: unknown): Extract<Reason, { kind: 'internal' }> {
  return { kind: 'internal', error: thrown instanceof Error ? thrown : new Error(String(thrown)) };
}

/** The reasons whose stage may succeed on another attempt: it could not start, timed out, or its provider failed. */
export function isRetryable(reason: Reason): boolean {
  switch (reason.kind) {
    case 'spawn':
    case 'timeout':
    case 'provider':
      return true;
    case 'exit_code':
    case 'expression':
    case 'budget':
    case 'tool_errors':
    case 'max_turns':
    case 'review':
    case 'threshold':
    case 'not_converged':
    case 'rejected':
    case 'needs':
    case 'if':
    case 'cancelled':
    case 'config':
    case 'parse':
    case 'output':
    case 'write':
    case 'conflict':
    case 'joined':
    case 'for_each':
    case 'sandbox':
    case 'internal':
      return false;
    default:
      return unreachable(reason, 'reason');
  }
}
