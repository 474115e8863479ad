import { describe, expect, test } from 'vitest';
import type { StageNode } from '../../../src/config/pipeline.js';
import type { FanoutSpec } from '../../../src/config/fanout.js';
import { fanoutOutputs, joinStatus, pickInstance, type InstanceEnd } from '../../../src/engine/fanout/join.js';

const node = {
  id: 'attempt',
  path: 'attempt',
  source: { file: 'factory.yaml', dir: '.', locate: () => ({ line: 9, column: 13, length: 1 }) },
} as unknown as StageNode;

const end = (index: number, status: InstanceEnd['status'], score?: number, reasonName?: string): InstanceEnd => ({
  instance: { index, matrix: { approach: `a${index}` }, label: `approach=a${index}` },
  status,
  outputs: score === undefined ? {} : { score },
  ...(reasonName ? { reasonName } : {}),
});

const ctx = { contexts: {} };
const spec = (s: Partial<FanoutSpec>): FanoutSpec => ({ isolate: false, wait: 'all', matrix: {}, ...s });

describe('pick', () => {
  test('the highest number among succeeded instances wins; ties go to the lowest index', () => {
    const pick = spec({ pick: '${{ instance.outputs.score }}' });
    expect(pickInstance(node, pick, [end(1, 'succeeded', 0.5), end(2, 'succeeded', 0.9), end(3, 'succeeded', 0.9), end(4, 'failed', 5)], null, ctx)).toEqual({ ok: true, index: 2 });
    expect(pickInstance(node, pick, [end(1, 'failed', 1)], null, ctx)).toEqual({ ok: true, index: null });
  });

  test('instance.matrix and instance.index are readable; a pick that is not a number is an error', () => {
    expect(pickInstance(node, spec({ pick: "${{ instance.matrix.approach == 'a3' }}" }), [end(1, 'succeeded'), end(3, 'succeeded')], null, ctx)).toEqual({ ok: true, index: 3 });
    expect(pickInstance(node, spec({ pick: '${{ 0 - instance.index }}' }), [end(1, 'succeeded')], null, ctx)).toMatchObject({ ok: false });
    expect(pickInstance(node, spec({ pick: '${{ instance.outputs.missing }}' }), [end(1, 'succeeded')], null, ctx)).toMatchObject({ ok: false, reason: { kind: 'expression' }, message: 'join.pick gave null for instance 1, not a number' });
  });

  test('first_success picks the first to succeed; without a join nothing is picked', () => {
    expect(pickInstance(node, spec({ wait: 'first_success' }), [end(1, 'cancelled'), end(2, 'succeeded')], 2, ctx)).toEqual({ ok: true, index: 2 });
    expect(pickInstance(node, spec({}), [end(1, 'succeeded')], null, ctx)).toEqual({ ok: true, index: null });
  });
});

describe('the stage status', () => {
  test('without a join, every instance must succeed (a GitHub matrix job)', () => {
    expect(joinStatus(node, spec({}), [end(1, 'succeeded'), end(2, 'succeeded')])).toMatchObject({ status: 'succeeded', message: '2 of 2 instances succeeded' });
    expect(joinStatus(node, spec({}), [end(1, 'succeeded'), end(2, 'failed')])).toMatchObject({ status: 'failed', message: expect.stringContaining('attempt[2] approach=a2 failed') });
    expect(joinStatus(node, spec({}), [end(1, 'error'), end(2, 'failed')])).toMatchObject({ status: 'error' });
  });

  test('with pick or first_success one success is enough; instances cancelled by the join are not failures', () => {
    expect(joinStatus(node, spec({ pick: '${{ 1 }}' }), [end(1, 'failed'), end(2, 'succeeded')]).status).toBe('succeeded');
    expect(joinStatus(node, spec({ wait: 'first_success' }), [end(1, 'cancelled', undefined, 'joined'), end(2, 'succeeded')]).status).toBe('succeeded');
    expect(joinStatus(node, spec({ wait: 'first_success' }), [end(1, 'failed'), end(2, 'failed')]).status).toBe('failed');
  });

  test('outputs: instances, picked, and the picked one\'s own', () => {
    expect(fanoutOutputs([end(1, 'succeeded', 1), end(2, 'succeeded', 2)], 2)).toEqual({
      score: 2,
      picked: 2,
      instances: [
        { index: 1, status: 'succeeded', outputs: { score: 1 }, matrix: { approach: 'a1' } },
        { index: 2, status: 'succeeded', outputs: { score: 2 }, matrix: { approach: 'a2' } },
      ],
    });
    expect(fanoutOutputs([end(1, 'failed')], null)).toMatchObject({ picked: null });
  });
});
