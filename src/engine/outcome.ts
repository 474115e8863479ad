import { EXIT, type ExitCode } from '../base/exit-codes.js';
import { unreachable } from '../base/unreachable.js';
import type { RunStatus, StageStatus } from '../records/events.js';
import type { ReasonName } from '../records/reasons.js';

export interface Counted {
  status: StageStatus | 'running';
  /** By name: a stage kept from an earlier run's record has no more. */
  reasonName?: ReasonName | null;
  continueOnError: boolean;
}

/**
 * The one mapping from reasons to exit codes. It lives in the engine, not src/cli, because the
 * exit code is part of run.json and of the `run_finished` event, both written by the engine.
 */
export function errorExitCode(reason: ReasonName | null | undefined): ExitCode {
  if (reason === null || reason === undefined) return EXIT.failed;
  switch (reason) {
    case 'config':
      return EXIT.usage;
    case 'budget':
      return EXIT.budget;
    case 'internal':
      return EXIT.internal;
    case 'exit_code':
    case 'spawn':
    case 'timeout':
    case 'expression':
    case 'provider':
    case 'tool_errors':
    case 'max_turns':
    case 'review':
    case 'threshold':
    case 'not_converged':
    case 'rejected':
    case 'needs':
    case 'if':
    case 'cancelled':
    case 'parse':
    case 'output':
    case 'write':
    case 'conflict':
    case 'joined':
    case 'for_each':
    case 'sandbox':
      return EXIT.failed;
    default:
      return unreachable(reason, 'reason');
  }
}

/** When several apply, the first of these wins: a bug outranks everything but an interruption. */
const PRECEDENCE: readonly ExitCode[] = [EXIT.interrupted, EXIT.internal, EXIT.usage, EXIT.budget, EXIT.failed, EXIT.ok];

/**
 * The run's status and exit code (docs/running.md): when several apply, the first of 130
 * (interrupted), 70 (internal), 2 (configuration), 3 (budget), 1 (any other error or failure)
 * wins. A stage with continue_on_error does not fail its scope.
 */
export function runOutcome(stages: Iterable<Counted>, interrupted: boolean, recordError: boolean): { status: RunStatus; exit_code: ExitCode } {
  if (interrupted) return { status: 'cancelled', exit_code: EXIT.interrupted };
  let error: ExitCode | undefined = recordError ? EXIT.failed : undefined;
  let failed = false;
  for (const s of stages) {
    if (s.continueOnError && (s.status === 'failed' || s.status === 'error')) continue;
    if (s.status === 'error') {
      const code = errorExitCode(s.reasonName);
      if (error === undefined || PRECEDENCE.indexOf(code) < PRECEDENCE.indexOf(error)) error = code;
    } else if (s.status === 'failed' || s.status === 'cancelled' || s.status === 'running') {
      failed = true;
    }
  }
  if (error !== undefined) return { status: 'error', exit_code: error };
  if (failed) return { status: 'failed', exit_code: EXIT.failed };
  return { status: 'succeeded', exit_code: EXIT.ok };
}
