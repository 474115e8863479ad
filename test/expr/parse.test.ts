import { describe, it, expect } from 'vitest';
import { parseExpression, MAX_DEPTH, type Expr, type ExprError } from '../../src/expr/index.js';

function ast(src: string): Expr {
  const r = parseExpression(src);
  if (!r.ok) throw new Error(`expected ${src} to parse: ${r.error.message}`);
  return r.ast;
}

function error(src: string): ExprError {
  const r = parseExpression(src);
  if (r.ok) throw new Error(`expected ${src} to fail`);
  return r.error;
}

function literal(src: string): unknown {
  const node = ast(src);
  if (node.kind !== 'literal') throw new Error(`not a literal: ${node.kind}`);
  return node.value;
}

describe('literals', () => {
  it.each([
    ['1', 1],
    ['-1', -1],
    ['+2', 2],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['-2.5e3', -2500],
    ['1e-2', 0.01],
    ['0xff', 255],
    ['0xFF', 255],
    ['0o17', 15],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['true', true],
    ['false', false],
    ['null', null],
    ["'it''s'", "it's"],
    ["''", ''],
    ['"say ""hi"""', 'say "hi"'],
    ['"single \' inside"', "single ' inside"],
    ["'a}}b'", 'a}}b'],
    ["'no \\n escapes'", 'no \\n escapes'],
  ])('%s', (src, value) => {
    expect(literal(src)).toEqual(value);
  });

  it('NaN is a number literal', () => {
    expect(Number.isNaN(literal('NaN'))).toBe(true);
  });

  it('doubled quotes are unescaped everywhere, not only the first', () => {
    expect(literal("'a''b''c'")).toBe("a'b'c");
  });

  it.each(['0b101', '1abc', '-0xff', '1e', '0x'])('%s is not a number', (src) => {
    const e = error(src);
    expect(e.message).toContain('is not a valid number');
    expect(e.offset).toBe(0);
    expect(e.length).toBe(src.length);
  });
});

describe('structure and offsets', () => {
  it('reads a property chain with the name positions', () => {
    const node = ast('stages.plan.outputs.text');
    expect(node).toMatchObject({ kind: 'property', name: 'text', nameOffset: 20, offset: 0, length: 24 });
    if (node.kind !== 'property') return;
    expect(node.object).toMatchObject({ kind: 'property', name: 'outputs', nameOffset: 12 });
  });

  it('keywords after a dot are property names', () => {
    expect(ast('a.null')).toMatchObject({ kind: 'property', name: 'null' });
    expect(ast('a.true')).toMatchObject({ kind: 'property', name: 'true' });
    expect(ast('a.NaN')).toMatchObject({ kind: 'property', name: 'NaN' });
  });

  it('names may contain dashes and underscores', () => {
    expect(ast('stages.my-stage_1.status')).toMatchObject({ kind: 'property', object: { name: 'my-stage_1' } });
  });

  it('parses filters in both spellings', () => {
    expect(ast('stages.*.status')).toMatchObject({
      kind: 'property',
      name: 'status',
      object: { kind: 'filter', starOffset: 7 },
    });
    expect(ast('a[*]')).toMatchObject({ kind: 'filter', starOffset: 2, offset: 0, length: 4 });
  });

  it('parses index access with any expression', () => {
    expect(ast("a['b']")).toMatchObject({ kind: 'index', index: { kind: 'literal', value: 'b' }, length: 6 });
    expect(ast('stages[params.x].status')).toMatchObject({
      kind: 'property',
      object: { kind: 'index', index: { kind: 'property' } },
    });
  });

  it('parses calls with name offsets, any spacing, and zero arguments', () => {
    expect(ast("  contains( a , 'b' )")).toMatchObject({
      kind: 'call',
      name: 'contains',
      nameOffset: 2,
      offset: 2,
      length: 19,
    });
    expect(ast('success()')).toMatchObject({ kind: 'call', name: 'success', args: [] });
    expect(ast('fromJSON(x).a')).toMatchObject({ kind: 'property', name: 'a', object: { kind: 'call' } });
  });

  it('gives && precedence over ||, and comparison over equality', () => {
    const node = ast('a || b && c');
    expect(node).toMatchObject({
      kind: 'logical',
      op: '||',
      operands: [{ kind: 'context' }, { kind: 'logical', op: '&&' }],
    });
    expect(ast('a == b < c')).toMatchObject({ kind: 'compare', op: '==', right: { kind: 'compare', op: '<' } });
    expect(ast('!a == b')).toMatchObject({ kind: 'compare', left: { kind: 'not' } });
  });

  it('keeps && chains flat', () => {
    expect(ast('a && b && c && d')).toMatchObject({ kind: 'logical', operands: [{}, {}, {}, {}] });
  });

  it('parentheses group and their span covers them', () => {
    const node = ast('(a || b) && c');
    expect(node).toMatchObject({
      kind: 'logical',
      op: '&&',
      offset: 0,
      length: 13,
      operands: [{ kind: 'logical', op: '||' }, {}],
    });
    expect(ast('!(a)')).toMatchObject({ kind: 'not', offset: 0, length: 4 });
    expect(ast('(a).b')).toMatchObject({ kind: 'property', offset: 0, length: 5 });
  });

  it('ignores whitespace, newlines included', () => {
    expect(ast('\n a\t==\n b ')).toMatchObject({ kind: 'compare', offset: 2, length: 7 });
  });
});

describe('parse errors', () => {
  it.each<[string, number, number, string]>([
    ['', 0, 1, 'expected an expression'],
    ['   ', 3, 1, 'expected an expression'],
    ['a ==', 4, 1, 'unexpected end of expression'],
    ['a = b', 2, 1, "unexpected character '='"],
    ['a === b', 4, 1, "unexpected '='"],
    ['a & b', 2, 1, "unexpected character '&'"],
    ['a | b', 2, 1, "unexpected character '|'"],
    ["'abc", 0, 4, 'unterminated string'],
    ['"abc', 0, 4, 'unterminated string'],
    ['(a', 2, 1, "expected ')'"],
    ['a[1', 3, 1, "expected ']'"],
    ['f(a b)', 4, 1, "expected ')'"],
    ['a b', 2, 1, "unexpected name 'b'"],
    ['a.', 2, 1, "expected a property name after '.'"],
    ['a.1', 2, 1, "expected a property name after '.'"],
    ["'x'.length", 3, 1, "unexpected '.'"],
    ['a - b', 2, 1, "'-' is not a valid number"],
    ['a $ b', 2, 1, "unexpected character '$'"],
    [')', 0, 1, "unexpected ')'"],
    ['a }', 2, 1, "unexpected character '}'"],
  ])('%j fails at %i', (src, offset, length, message) => {
    const e = error(src);
    expect(e.message).toContain(message);
    expect(e.offset).toBe(offset);
    expect(e.length).toBe(length);
  });

  it('hints at the operator meant', () => {
    expect(error('a = b').hint).toBe("use '==' to compare");
    expect(error('a & b').hint).toBe("use '&&'");
    expect(error('a === b').hint).toContain("'=='");
    expect(error('a - b').hint).toContain('no arithmetic');
  });
});

describe('depth limit', () => {
  const nested = (n: number, open: string, inner: string, close: string) => open.repeat(n) + inner + close.repeat(n);

  it(`accepts ${MAX_DEPTH} levels of parentheses and refuses ${MAX_DEPTH + 1}`, () => {
    expect(parseExpression(nested(MAX_DEPTH, '(', 'a', ')')).ok).toBe(true);
    expect(error(nested(MAX_DEPTH + 1, '(', 'a', ')')).message).toContain('deeper than 50');
  });

  it('refuses 10,000 nested parentheses without overflowing the stack', () => {
    const e = error(nested(10_000, '(', 'a', ')'));
    expect(e.message).toContain('nested deeper than 50 levels');
    expect(e.offset).toBe(MAX_DEPTH);
  });

  it('refuses 10,000 negations', () => {
    expect(error('!'.repeat(10_000) + 'a').message).toContain('nested deeper than 50 levels');
    expect(parseExpression('!'.repeat(MAX_DEPTH) + 'a').ok).toBe(true);
  });

  it('refuses deep calls and brackets', () => {
    expect(error(nested(10_000, 'join(', 'a', ')')).message).toContain('deeper than 50');
    expect(error(nested(10_000, 'a[', 'b', ']')).message).toContain('deeper than 50');
  });

  it('refuses long access chains and comparison chains, which are built without recursion', () => {
    expect(parseExpression('a' + '.b'.repeat(MAX_DEPTH)).ok).toBe(true);
    expect(error('a' + '.b'.repeat(10_000)).message).toContain('deeper than 50');
    expect(error('a' + ' == a'.repeat(10_000)).message).toContain('deeper than 50');
  });

  it('does not count a long && chain as depth', () => {
    expect(parseExpression(Array(1000).fill('a').join(' && ')).ok).toBe(true);
  });
});
