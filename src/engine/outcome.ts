import type { Reason, RunStatus, StageStatus } from '../records/events.js';

export interface Counted {
  status: StageStatus | 'running';
  reason?: Reason | null;
  continueOnError: boolean;
}

/**
 * The run's status and exit code (docs/configuration.md and docs/running.md): when several apply, the first of
 * 130 (interrupted), 2 (configuration), 3 (budget), 1 (any other error or failure) wins. A
 * stage with continue_on_error does not fail its scope.
 */
export function runOutcome(stages: Iterable<Counted>, interrupted: boolean, recordError: boolean): { status: RunStatus; exit_code: number } {
  if (interrupted) return { status: 'cancelled', exit_code: 130 };
  let config = false;
  let budget = false;
  let error = recordError;
  let failed = false;
  for (const s of stages) {
    if (s.continueOnError && (s.status === 'failed' || s.status === 'error')) continue;
    if (s.status === 'error') {
      if (s.reason === 'config') config = true;
      else if (s.reason === 'budget') budget = true;
      else error = true;
    } else if (s.status === 'failed' || s.status === 'cancelled' || s.status === 'running') {
      failed = true;
    }
  }
  if (config) return { status: 'error', exit_code: 2 };
  if (budget) return { status: 'error', exit_code: 3 };
  if (error) return { status: 'error', exit_code: 1 };
  if (failed) return { status: 'failed', exit_code: 1 };
  return { status: 'succeeded', exit_code: 0 };
}
