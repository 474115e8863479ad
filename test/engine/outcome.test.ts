import { describe, expect, test } from 'vitest';
import { errorExitCode, runOutcome, type Counted } from '../../src/engine/outcome.js';
import { REASON_NAMES } from '../../src/records/reasons.js';

const error = (reasonName: Counted['reasonName'], continueOnError = false): Counted => ({ status: 'error', reasonName, continueOnError });

describe('the run exit code from its stages', () => {
  test('each reason of an error has its code: config 2, budget 3, internal 70, any other 1', () => {
    const codes = Object.fromEntries(REASON_NAMES.map((name) => [name, errorExitCode(name)]));
    expect(codes).toMatchObject({ config: 2, budget: 3, internal: 70, exit_code: 1, spawn: 1, provider: 1, write: 1, parse: 1 });
    expect(new Set(Object.values(codes))).toEqual(new Set([1, 2, 3, 70]));
    // A stage kept from a record without a reason.
    expect(errorExitCode(null)).toBe(1);
  });

  test('when several apply: interrupted, then internal, then config, then budget, then 1', () => {
    expect(runOutcome([error('budget'), error('config'), error('internal')], false, false)).toEqual({ status: 'error', exit_code: 70 });
    expect(runOutcome([error('budget'), error('config'), error('exit_code')], false, false)).toEqual({ status: 'error', exit_code: 2 });
    expect(runOutcome([error('exit_code'), error('budget')], false, false)).toEqual({ status: 'error', exit_code: 3 });
    expect(runOutcome([error('internal')], true, false)).toEqual({ status: 'cancelled', exit_code: 130 });
    // A record that cannot be written is an error (1), outranked like any other.
    expect(runOutcome([error('budget')], false, true)).toEqual({ status: 'error', exit_code: 3 });
    expect(runOutcome([], false, true)).toEqual({ status: 'error', exit_code: 1 });
  });

  test('continue_on_error keeps a stage out of it; failed stages make it 1', () => {
    expect(runOutcome([error('internal', true), { status: 'succeeded', continueOnError: false }], false, false)).toEqual({ status: 'succeeded', exit_code: 0 });
    expect(runOutcome([{ status: 'failed', reasonName: 'exit_code', continueOnError: false }], false, false)).toEqual({ status: 'failed', exit_code: 1 });
  });
});
