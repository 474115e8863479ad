import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { isReasonName, isRetryable, REASON_NAMES, type Reason } from '../../src/records/reasons.js';

describe('reasons', () => {
  test("the run record's schema lists exactly the names of the typed reasons", () => {
    const schema = JSON.parse(readFileSync(new URL('../../schemas/run.schema.json', import.meta.url), 'utf8')) as { $defs: { reason: { enum: string[] } } };
    expect([...schema.$defs.reason.enum].sort()).toEqual([...REASON_NAMES].sort());
    expect(isReasonName('internal')).toBe(true);
    expect(isReasonName('toString')).toBe(false);
  });

  test('only spawn, timeout and provider are retried; never internal', () => {
    const samples: Reason[] = [
      { kind: 'spawn', program: 'make' },
      { kind: 'timeout', afterMs: 1000 },
      { kind: 'provider', cause: 'overloaded', status: 529 },
      { kind: 'internal', error: new Error('bug') },
      { kind: 'write', path: '/w/PLAN.md' },
      { kind: 'budget', budget: 'tokens', scope: 'run', spent: 10, limit: 10 },
      { kind: 'config' },
    ];
    expect(samples.filter(isRetryable).map((r) => r.kind)).toEqual(['spawn', 'timeout', 'provider']);
  });
});
