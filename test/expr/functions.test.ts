import { describe, it, expect } from 'vitest';
import { evaluateExpression, FUNCTIONS, lookupFunction, type EvalContext, type Value } from '../../src/expr/index.js';

const ctx: EvalContext = {
  contexts: {
    params: { list: ['Apple', 'banana', 3, null, true], nested: { a: [1, { b: 'c' }] }, text: 'Hello World' },
  },
};

function value(src: string): Value {
  const r = evaluateExpression(src, ctx);
  if (!r.ok) throw new Error(`${src}: ${r.error.message}`);
  return r.value;
}

function failure(src: string): string {
  const r = evaluateExpression(src, ctx);
  if (r.ok) throw new Error(`expected ${src} to fail, got ${JSON.stringify(r.value)}`);
  return r.error.message;
}

describe('function table', () => {
  it('has every function of the spec', () => {
    expect(FUNCTIONS.map((f) => f.name).sort()).toEqual(
      [
        'always',
        'cancelled',
        'contains',
        'endsWith',
        'failure',
        'format',
        'fromJSON',
        'join',
        'length',
        'startsWith',
        'success',
        'toJSON',
      ].sort(),
    );
  });

  it('looks names up without case', () => {
    expect(lookupFunction('TOJSON')?.name).toBe('toJSON');
    expect(lookupFunction('startswith')?.name).toBe('startsWith');
    expect(lookupFunction('eval')).toBeUndefined();
    expect(value("toJson('x')")).toBe('"x"');
    expect(value("STARTSWITH('abc', 'A')")).toBe(true);
  });
});

describe('contains', () => {
  it.each<[string, boolean]>([
    ["contains('Hello World', 'world')", true],
    ["contains('Hello', 'xyz')", false],
    ["contains('abc', '')", true],
    ['contains(params.text, params.list[0])', false],
    ["contains(params.list, 'apple')", true],
    ["contains(params.list, 'BANANA')", true],
    ["contains(params.list, '3')", true],
    ['contains(params.list, null)', true],
    ["contains(params.list, 'cherry')", false],
    ['contains(params.list, 1)', true], // true == 1 in GitHub's equality
    ["contains(fromJSON('[]'), '')", false],
    ["contains(params.nested, 'a')", false],
    ["contains('123', 2)", true],
    ["contains('true', true)", true],
    ['contains(params.list, params.nested)', false],
  ])('%s → %s', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('startsWith / endsWith', () => {
  it.each<[string, boolean]>([
    ["startsWith('Hello world', 'HELLO')", true],
    ["startsWith('Hello world', 'world')", false],
    ["endsWith('Hello world', 'WORLD')", true],
    ["endsWith('Hello world', 'hello')", false],
    ["startsWith('', '')", true],
    ['startsWith(12345, 12)', true],
    ['endsWith(true, 1)', false],
    ["startsWith(params.list, 'Apple')", false],
    ["endsWith('x', params.list)", false],
  ])('%s → %s', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('join', () => {
  it.each<[string, string]>([
    ['join(params.list)', 'Apple,banana,3,,true'],
    ["join(params.list, ' | ')", 'Apple | banana | 3 |  | true'],
    ["join('single', '-')", 'single'],
    ['join(null)', ''],
    ["join(fromJSON('[]'), '-')", ''],
    ["join(fromJSON('[1,[2]]'), ';')", '1;[\n  2\n]'],
    ["join(params.nested, '-')", ''],
    ['join(params.list, 0)', 'Apple0banana0300true'],
  ])('%s → %j', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('length (an addition to GitHub)', () => {
  it.each<[string, number]>([
    ["length('héllo')", 5],
    ["length('')", 0],
    ['length(params.list)', 5],
    ['length(params.nested)', 1],
    ['length(null)', 0],
    ['length(12345)', 5],
    ['length(true)', 4],
    ['length(stages.*)', 0],
  ])('%s → %d', (src, expected) => {
    expect(value(src)).toBe(expected);
  });
});

describe('toJSON and fromJSON', () => {
  it('pretty-prints with two spaces', () => {
    expect(value('toJSON(params.nested)')).toBe('{\n  "a": [\n    1,\n    {\n      "b": "c"\n    }\n  ]\n}');
    expect(value('toJSON(null)')).toBe('null');
    expect(value('toJSON(1.5)')).toBe('1.5');
    expect(value("toJSON('a\"b')")).toBe('"a\\"b"');
    expect(value("toJSON(fromJSON('[]'))")).toBe('[]');
  });

  it('parses JSON into values of every kind', () => {
    expect(value('fromJSON(\'{"a": [1, true, null, "x"]}\')')).toEqual({ a: [1, true, null, 'x'] });
    expect(value("fromJSON('42')")).toBe(42);
    expect(value("fromJSON('true')")).toBe(true);
    expect(value('fromJSON(\' "s" \')')).toBe('s');
    expect(value('fromJSON(\'{"a":{"b":2}}\').A.B')).toBe(2);
  });

  it('round-trips', () => {
    expect(value('fromJSON(toJSON(params.nested))')).toEqual({ a: [1, { b: 'c' }] });
  });

  it('keeps a "__proto__" key as data', () => {
    const parsed = value('fromJSON(\'{"__proto__": {"x": 1}}\')') as Record<string, Value>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(value('fromJSON(\'{"__proto__": {"x": 1}}\').x')).toBe(null);
  });

  it('fails on text that is not JSON', () => {
    expect(failure("fromJSON('{a:1}')")).toContain('fromJSON: the text is not valid JSON');
    expect(failure("fromJSON('')")).toContain('not valid JSON');
    expect(failure('fromJSON(null)')).toContain('not valid JSON');
  });
});

describe('format', () => {
  it.each<[string, string]>([
    ["format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", 'Hello Mona the Octocat'],
    ["format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", '{Hello Mona the Octocat!}'],
    ["format('{1}{0}{1}', 'a', 'b')", 'bab'],
    ["format('no placeholders')", 'no placeholders'],
    ["format('{{}}')", '{}'],
    ["format('{{0}}', 'x')", '{0}'],
    ["format('{0}', null)", ''],
    ["format('{0}|{1}|{2}', true, 1.50, params.list[1])", 'true|1.5|banana'],
    ["format('{0}', fromJSON('[1]'))", '[\n  1\n]'],
    ["format('{00}', 'a')", 'a'],
  ])('%s → %j', (src, expected) => {
    expect(value(src)).toBe(expected);
  });

  it.each([
    ["format('{0}')", 'refers to argument {0} but only 0 argument(s)'],
    ["format('{1}', 'a')", 'refers to argument {1} but only 1 argument(s)'],
    ["format('{', 'a')", 'invalid format string'],
    ["format('}', 'a')", "unmatched '}'"],
    ["format('{a}', 'a')", 'invalid format string'],
    ["format('{0', 'a')", 'invalid format string'],
    ["format('{ 0}', 'a')", 'invalid format string'],
    ["format('{{0}', 'a')", "unmatched '}'"],
  ])('%s fails', (src, message) => {
    expect(failure(src)).toContain(message);
  });

  it('takes any number of arguments but at least the format string', () => {
    const args = Array.from({ length: 300 }, (_, i) => `'${i}'`).join(', ');
    expect(value(`format('{299}', ${args})`)).toBe('299');
    expect(failure('format()')).toBe('format() takes at least 1 argument, got 0');
  });
});
