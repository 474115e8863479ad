import { describe, expect, test } from 'vitest';
import { describeValues, expandMatrix, fanoutOf, matrixKeys, withoutInstances } from '../../src/config/fanout.js';

describe('expandMatrix', () => {
  test('the product in key order, the first key varying slowest', () => {
    const r = expandMatrix({ approach: ['a', 'b'], size: [1, 2, 3] }, {});
    expect(r).toEqual({ ok: true, combos: [
      { approach: 'a', size: 1 }, { approach: 'a', size: 2 }, { approach: 'a', size: 3 },
      { approach: 'b', size: 1 }, { approach: 'b', size: 2 }, { approach: 'b', size: 3 },
    ] });
  });

  test('exclude drops every combination matching all its keys; include adds after', () => {
    const r = expandMatrix({ os: ['linux', 'mac'], node: [20, 22], exclude: [{ os: 'mac', node: 20 }], include: [{ os: 'win', node: 22, extra: true }] }, {});
    expect(r.ok && r.combos).toEqual([{ os: 'linux', node: 20 }, { os: 'linux', node: 22 }, { os: 'mac', node: 22 }, { os: 'win', node: 22, extra: true }]);
    expect(matrixKeys({ os: [], include: [{ extra: 1 }] })).toEqual(['os', 'extra']);
  });

  test('a list written as an expression over params', () => {
    expect(expandMatrix({ model: '${{ params.models }}' }, { models: ['x', 'y'] })).toEqual({ ok: true, combos: [{ model: 'x' }, { model: 'y' }] });
    const bad = expandMatrix({ model: '${{ params.one }}' }, { one: 'x' });
    expect(bad).toMatchObject({ ok: false, key: 'model', message: expect.stringContaining('not a list') });
  });

  test('an empty list, a matrix that excludes everything, and more than 256 instances are refused', () => {
    expect(expandMatrix({ a: [] }, {})).toMatchObject({ ok: false, key: 'a', message: expect.stringContaining('empty list') });
    expect(expandMatrix({ a: [1], exclude: [{ a: 1 }] }, {})).toMatchObject({ ok: false, message: expect.stringContaining('no instance') });
    const big = Array.from({ length: 17 }, (_, i) => i);
    expect(expandMatrix({ a: big, b: big.slice(0, 15) }, {})).toMatchObject({ ok: true });
    expect(expandMatrix({ a: big, b: big.slice(0, 16) }, {})).toMatchObject({ ok: false, message: 'the matrix gives 272 instances, more than 256' });
  });
});

describe('fan-out helpers', () => {
  test('fanoutOf reads the keys; a stage without matrix or for_each runs once', () => {
    expect(fanoutOf({ kind: 'plan' })).toBeUndefined();
    expect(fanoutOf({ kind: 'plan', for_each: '${{ x }}', max_items: 3, join: { wait: 'first_success' }, max_parallel: 2 })).toEqual({ forEach: '${{ x }}', maxItems: 3, isolate: false, wait: 'first_success', maxParallel: 2 });
  });

  test('instance values and paths', () => {
    expect(describeValues({ approach: 'refactor', n: 2 })).toBe('approach=refactor n=2');
    expect(describeValues(undefined, { title: 'x' })).toBe('item={"title":"x"}');
    expect(withoutInstances('build.attempt[12].generate')).toBe('build.attempt.generate');
  });
});
