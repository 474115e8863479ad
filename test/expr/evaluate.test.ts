import { describe, it, expect } from 'vitest';
import {
  evaluateExpression,
  formatNumber,
  toNumber,
  toText,
  truthy,
  type EvalContext,
  type Value,
} from '../../src/expr/index.js';

const contexts: Record<string, Value> = {
  params: { spec: 'SPEC.md', count: 3, flag: true, empty: '', list: ['a', 'B', 3], obj: { Key: 'v', key2: null } },
  stages: {
    plan: { status: 'succeeded', outputs: { text: 'the plan' } },
    review: {
      status: 'failed',
      outputs: { approved: false, findings: [{ severity: 'major' }, { severity: 'minor' }] },
    },
    test: { status: 'succeeded', outputs: { exit_code: 0 } },
  },
  env: { HOME: '/home/x' },
  run: { id: 'r1', dir: '/tmp/r1' },
};

const ctx: EvalContext = { contexts };

function value(src: string, c: EvalContext = ctx): Value {
  const r = evaluateExpression(src, c);
  if (!r.ok) throw new Error(`${src}: ${r.error.message}`);
  return r.value;
}

function failure(src: string, c: EvalContext = ctx) {
  const r = evaluateExpression(src, c);
  if (r.ok) throw new Error(`expected ${src} to fail, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('truthiness', () => {
  it.each<[Value, boolean]>([
    [false, false],
    [0, false],
    [-0, false],
    ['', false],
    [null, false],
    [NaN, false],
    [true, true],
    [1, true],
    [-1, true],
    ['0', true],
    ['false', true],
    [[], true],
    [{}, true],
    [Infinity, true],
  ])('%j is %s', (v, expected) => {
    expect(truthy(v)).toBe(expected);
  });

  it('! gives a boolean', () => {
    expect(value('!0')).toBe(true);
    expect(value("!'a'")).toBe(false);
    expect(value('!!params.spec')).toBe(true);
    expect(value('!NaN')).toBe(true);
    expect(value('!params.list')).toBe(false);
  });
});

describe('toNumber', () => {
  it.each<[Value, number]>([
    [null, 0],
    [true, 1],
    [false, 0],
    ['', 0],
    ['   ', 0],
    [' 42 ', 42],
    ['0x1F', 31],
    ['1e3', 1000],
    ['-1.5', -1.5],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ])('%j → %d', (v, n) => {
    expect(toNumber(v)).toBe(n);
  });

  it.each<Value>(['abc', '1_000', '0b1', [], {}, [1], '1 2'])('%j → NaN', (v) => {
    expect(Number.isNaN(toNumber(v))).toBe(true);
  });
});

describe('equality with coercion', () => {
  it.each<[string, boolean]>([
    ["'abc' == 'ABC'", true],
    ["'abc' != 'ABD'", true],
    ["null == ''", true],
    ['null == 0', true],
    ['null == false', true],
    ['null == null', true],
    ["'' == 0", true],
    ["'' == false", true],
    ["'1' == 1", true],
    ["'0x10' == 16", true],
    ["' 2 ' == 2", true],
    ['true == 1', true],
    ["true == '1'", true],
    ["true == 'true'", false],
    ["'true' == 'TRUE'", true],
    ['false == 0', true],
    ['NaN == NaN', false],
    ['NaN != NaN', true],
    ["'abc' == NaN", false],
    ['1 == 1.0', true],
    ['0xff == 255', true],
    ['-0 == 0', true],
    ['Infinity == Infinity', true],
    ['params.list == params.list', true],
    ['params.list == fromJSON(\'["a","B",3]\')', false],
    ["fromJSON('{}') == fromJSON('{}')", false],
    ['params.obj == 0', false],
    ['params.list == null', false],
    ["params.count == '3'", true],
    ['params.missing == null', true],
  ])('%s → %s', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('ordering with coercion', () => {
  it.each<[string, boolean]>([
    ['1 < 2', true],
    ['2 <= 2', true],
    ['3 > 2', true],
    ['2 >= 3', false],
    ["'a' < 'B'", true],
    ["'b' > 'A'", true],
    ["'a' <= 'A'", true],
    ["'a' >= 'A'", true],
    ["'10' > 9", true],
    ["'abc' < 1", false],
    ["'abc' > 1", false],
    ['NaN < 1', false],
    ['NaN >= NaN', false],
    ['null < 1', true],
    ['false < true', true],
    ['true > false', true],
    ['true >= 1', true],
    ['params.list < 1', false],
    ['params.list <= params.list', true],
    ['-Infinity < -1e308', true],
  ])('%s → %s', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('&& and || return an operand', () => {
  it.each<[string, Value]>([
    ["'a' && 'b'", 'b'],
    ["'' && 'b'", ''],
    ["0 && 'b'", 0],
    ["null || 'default'", 'default'],
    ["params.spec || 'default'", 'SPEC.md'],
    ["params.empty || 'default'", 'default'],
    ['false || 0', 0],
    ['1 && 2 && 3', 3],
    ['1 && 0 && 3', 0],
    ["null || '' || 'x'", 'x'],
    ["params.flag && 'yes' || 'no'", 'yes'],
    ["!params.flag && 'yes' || 'no'", 'no'],
  ])('%s → %j', (src, expected) => {
    expect(value(src)).toEqual(expected);
  });

  it('returns lists and maps themselves', () => {
    expect(value('params.list || 1')).toBe(contexts.params && (contexts.params as Record<string, Value>).list);
  });

  it('short-circuits: a failing right side is never evaluated', () => {
    expect(value("false && fromJSON('not json')")).toBe(false);
    expect(value("true || fromJSON('not json')")).toBe(true);
    expect(failure("true && fromJSON('not json')").message).toContain('not valid JSON');
  });
});

describe('property access', () => {
  it('reads nested values', () => {
    expect(value('stages.plan.outputs.text')).toBe('the plan');
    expect(value("stages['plan'].outputs['text']")).toBe('the plan');
    expect(value('params.list[1]')).toBe('B');
    expect(value("params.list['1']")).toBe('B');
    expect(value('params.list[1.7]')).toBe('B');
  });

  it('matches keys exactly first, then without case', () => {
    expect(value('params.obj.key')).toBe('v');
    expect(value('PARAMS.SPEC')).toBe('SPEC.md');
    expect(value('params.OBJ.KEY2')).toBe(null);
    expect(value('x.a', { contexts: { x: { a: 1, A: 2 } } })).toBe(1);
    expect(value('x.A', { contexts: { x: { a: 1, A: 2 } } })).toBe(2);
  });

  it('gives null for missing keys, null, scalars and out-of-range indexes', () => {
    expect(value('params.nope')).toBe(null);
    expect(value('params.nope.deeper.still')).toBe(null);
    expect(value('params.spec.length')).toBe(null);
    expect(value('params.count.x')).toBe(null);
    expect(value('params.list[10]')).toBe(null);
    expect(value('params.list[-1]')).toBe(null);
    expect(value('params.list.x')).toBe(null);
    expect(value('params.obj[0]')).toBe(null);
  });

  it('never reaches the prototype chain', () => {
    expect(value('params.constructor')).toBe(null);
    expect(value('params.__proto__')).toBe(null);
    expect(value("params['toString']")).toBe(null);
    expect(value('params.list.length')).toBe(null);
  });

  it('reads a known context that was not given as null, and refuses an unknown one', () => {
    expect(value('loop.iteration')).toBe(null);
    expect(value('budget.spent_usd')).toBe(null);
    const e = failure('stagez.plan');
    expect(e.message).toBe('unknown context "stagez" (did you mean "stages"?)');
    expect(e.offset).toBe(0);
    expect(e.length).toBe(6);
  });
});

describe('filters', () => {
  it('* over a map gives its values, and access after it maps', () => {
    expect(value('stages.*.status')).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(value("contains(stages.*.status, 'FAILED')")).toBe(true);
    expect(value('stages.*.outputs.exit_code')).toEqual([0]);
  });

  it('[*] over a list gives its elements, and access maps over them', () => {
    expect(value('stages.review.outputs.findings.*.severity')).toEqual(['major', 'minor']);
    expect(value('stages.review.outputs.findings[*].severity')).toEqual(['major', 'minor']);
    expect(value('params.list[*]')).toEqual(['a', 'B', 3]);
  });

  it('drops elements that lack the key instead of giving null', () => {
    expect(value('x.*.a', { contexts: { x: [{ a: 1 }, { b: 2 }, 'str', { a: null }] } })).toEqual([1, null]);
  });

  it('flattens one level on a second *', () => {
    expect(value('x.*.*', { contexts: { x: { a: [1, 2], b: { c: 3 }, d: 4 } } })).toEqual([1, 2, 3]);
  });

  it('indexes inside elements after a filter', () => {
    expect(value('x.*[0]', { contexts: { x: [[1, 2], [3], []] } })).toEqual([1, 3]);
  });

  it('gives an empty list when filtering a scalar or null', () => {
    expect(value('params.spec.*')).toEqual([]);
    expect(value('params.nope.*.x')).toEqual([]);
  });

  it('a plain list indexes, a filtered list maps', () => {
    const c = {
      contexts: {
        x: [
          [10, 11],
          [20, 21],
        ],
      },
    };
    expect(value('x[1]', c)).toEqual([20, 21]);
    expect(value('x.*[1]', c)).toEqual([11, 21]);
  });
});

describe('rendering as text', () => {
  it.each<[Value, string]>([
    [null, ''],
    [true, 'true'],
    [false, 'false'],
    [1, '1'],
    [1.0, '1'],
    [-0, '0'],
    [1.5, '1.5'],
    [0.1 + 0.2, '0.3'],
    [1e21, '1e+21'],
    [NaN, 'NaN'],
    [Infinity, 'Infinity'],
    ['x', 'x'],
    [['a', 1], '[\n  "a",\n  1\n]'],
    [{ a: null }, '{\n  "a": null\n}'],
  ])('%j → %j', (v, text) => {
    expect(toText(v)).toBe(text);
  });

  it('formats hex literals as decimals', () => {
    expect(formatNumber(value('0xff') as number)).toBe('255');
  });
});

describe('status functions', () => {
  it('default to success, no failure, no cancellation', () => {
    expect(value('success()')).toBe(true);
    expect(value('failure()')).toBe(false);
    expect(value('cancelled()')).toBe(false);
    expect(value('always()')).toBe(true);
  });

  it('ask the given status', () => {
    const c: EvalContext = { contexts, status: { success: () => false, failure: () => true, cancelled: () => true } };
    expect(value('success()', c)).toBe(false);
    expect(value('failure()', c)).toBe(true);
    expect(value('cancelled()', c)).toBe(true);
    expect(value('always()', c)).toBe(true);
    expect(value('Success() || FAILURE()', c)).toBe(true);
  });
});

describe('run-time errors', () => {
  it('unknown function, with a suggestion and its position', () => {
    const e = failure("1 && contians('a', 'b')");
    expect(e.message).toBe('unknown function "contians" (did you mean "contains"?)');
    expect(e.offset).toBe(5);
    expect(e.length).toBe(8);
  });

  it('wrong arity', () => {
    expect(failure("contains('a')").message).toBe('contains() takes 2 arguments, got 1');
    expect(failure('success(1)').message).toBe('success() takes 0 arguments, got 1');
    expect(failure('join()').message).toBe('join() takes 1 to 2 arguments, got 0');
  });

  it('a failing function is placed on its call', () => {
    const e = failure("a || fromJSON('{')", { contexts: { a: '' } });
    expect(e.offset).toBe(5);
    expect(e.length).toBe(13);
  });

  it('parse errors come back as errors too', () => {
    expect(failure('a ==').message).toContain('unexpected end');
  });

  it('evaluating a tree at the depth limit works', () => {
    expect(value('!'.repeat(50) + 'true')).toBe(true);
    expect(value('('.repeat(50) + '1' + ')'.repeat(50))).toBe(1);
  });
});
