import { describe, it, expect } from 'vitest';
import {
  hasExpression,
  isSingleExpression,
  parseTemplate,
  renderDeep,
  renderValue,
  type EvalContext,
  type Value,
} from '../../src/expr/index.js';

const ctx: EvalContext = {
  contexts: {
    params: { spec: 'SPEC.md', n: 3, on: true, list: ['a', 'b'], obj: { k: 1 }, none: null },
    stages: { plan: { status: 'succeeded', outputs: { text: 'PLAN' } } },
  },
};

function render(text: string): Value {
  const r = renderValue(text, ctx);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.value;
}

describe('parseTemplate', () => {
  it('splits text and expressions with offsets into the whole string', () => {
    const r = parseTemplate('a ${{ params.spec }} b${{1}}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.parts).toMatchObject([
      { kind: 'text', value: 'a ', offset: 0 },
      {
        kind: 'expr',
        source: ' params.spec ',
        offset: 2,
        length: 18,
        sourceOffset: 5,
        ast: { kind: 'property', offset: 1 },
      },
      { kind: 'text', value: ' b', offset: 20 },
      { kind: 'expr', source: '1', offset: 22, length: 6, sourceOffset: 25 },
    ]);
  });

  it('gives a string without expressions as one text part, and an empty string as none', () => {
    expect(parseTemplate('plain } {{ text }}')).toEqual({
      ok: true,
      parts: [{ kind: 'text', value: 'plain } {{ text }}', offset: 0 }],
    });
    expect(parseTemplate('')).toEqual({ ok: true, parts: [] });
  });

  it('does not end an expression at }} inside a string', () => {
    const r = parseTemplate("${{ format('{{{0}}}', 'x') }} and ${{ 'a}}b' }}!");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.parts.map((p) => p.kind)).toEqual(['expr', 'text', 'expr', 'text']);
    expect(r.parts[2]).toMatchObject({ source: " 'a}}b' " });
    expect(render("${{ format('{{{0}}}', 'x') }} and ${{ 'a}}b' }}!")).toBe('{x} and a}}b!');
  });

  it('allows ${{ inside a string inside an expression', () => {
    expect(render("${{ '${{ not nested }}' }}")).toBe('${{ not nested }}');
  });

  it('reports an unterminated ${{ at its offset', () => {
    const r = parseTemplate('ok ${{ x }} then ${{ params.spec');
    expect(r).toEqual({
      ok: false,
      error: { message: "unterminated '${{'", offset: 17, length: 3, hint: "close the expression with '}}'" },
    });
  });

  it('reports an unterminated string inside an expression at the quote', () => {
    const r = parseTemplate("x ${{ 'abc }}");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe('unterminated string');
    expect(r.error.offset).toBe(6);
  });

  it('reports parse errors with offsets into the whole string', () => {
    const r = parseTemplate('prefix ${{ a == }} suffix');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toContain('unexpected end of expression');
    expect(r.error.offset).toBe(16);
  });

  it('refuses an empty expression', () => {
    const r = parseTemplate('${{ }}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toBe('expected an expression');
    expect(r.error.offset).toBe(4);
  });

  it('refuses a single } inside an expression', () => {
    const r = parseTemplate('${{ a } }}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(6);
  });
});

describe('isSingleExpression / hasExpression', () => {
  it.each<[string, boolean]>([
    ['${{ x }}', true],
    ['${{x}}', true],
    [' ${{ x }}', false],
    ['${{ x }}\n', false],
    ['${{ x }}${{ y }}', false],
    ['text', false],
    ['${{ x', false],
  ])('%j → %s', (text, expected) => {
    expect(isSingleExpression(text)).toBe(expected);
  });

  it('detects ${{ even when it does not parse', () => {
    expect(hasExpression('a ${{ b')).toBe(true);
    expect(hasExpression('a { b }')).toBe(false);
  });
});

describe('renderValue', () => {
  it('keeps the type of a single expression', () => {
    expect(render('${{ params.n }}')).toBe(3);
    expect(render('${{ params.on }}')).toBe(true);
    expect(render('${{ params.list }}')).toEqual(['a', 'b']);
    expect(render('${{ params.obj }}')).toEqual({ k: 1 });
    expect(render('${{ params.none }}')).toBe(null);
    expect(render('${{ params.missing }}')).toBe(null);
    expect(render("${{ stages.plan.status == 'SUCCEEDED' }}")).toBe(true);
  });

  it('renders expressions in longer text as text', () => {
    expect(render('n=${{ params.n }}')).toBe('n=3');
    expect(render('${{ params.on }}!')).toBe('true!');
    expect(render('[${{ params.none }}]')).toBe('[]');
    expect(render('[${{ params.missing.deep }}]')).toBe('[]');
    expect(render('obj: ${{ params.obj }}')).toBe('obj: {\n  "k": 1\n}');
    expect(render('${{ params.spec }} and ${{ stages.plan.outputs.text }}')).toBe('SPEC.md and PLAN');
    expect(render('${{ 0.1 }}${{ 1.0 }}')).toBe('0.11');
  });

  it('leaves text without expressions alone', () => {
    expect(render('just text { } }}')).toBe('just text { } }}');
  });

  it('places run-time errors inside the string', () => {
    const r = renderValue("text ${{ fromJSON('nope') }}", ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(9);
    expect(r.error.length).toBe(16);
    const single = renderValue('${{ nope.x }}', ctx);
    expect(single.ok).toBe(false);
    if (single.ok) return;
    expect(single.error).toMatchObject({ message: 'unknown context "nope"', offset: 4, length: 4 });
  });
});

describe('renderDeep', () => {
  it('renders every string in nested lists and maps, keeping other values', () => {
    const input: Value = {
      prompt: 'Implement ${{ stages.plan.outputs.text }}',
      count: '${{ params.n }}',
      context: ['${{ params.spec }}', 'README.md'],
      nested: { flag: '${{ params.on }}', n: 7, none: null, yes: false },
      '${{ keys }}': 'stay',
    };
    expect(renderDeep(input, ctx)).toEqual({
      ok: true,
      value: {
        prompt: 'Implement PLAN',
        count: 3,
        context: ['SPEC.md', 'README.md'],
        nested: { flag: true, n: 7, none: null, yes: false },
        '${{ keys }}': 'stay',
      },
    });
  });

  it('does not change its input', () => {
    const input: Value = { a: ['${{ params.n }}'] };
    renderDeep(input, ctx);
    expect(input).toEqual({ a: ['${{ params.n }}'] });
  });

  it('keeps a "__proto__" key as an own key', () => {
    const input = JSON.parse('{"__proto__": "${{ params.n }}"}') as Value;
    const r = renderDeep(input, ctx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.hasOwn(r.value as object, '__proto__')).toBe(true);
    expect((r.value as Record<string, Value>)['__proto__']).toBe(3);
  });

  it('errors carry the JSON path and the offset inside the string', () => {
    const r = renderDeep({ stages: [{ ok: 'fine' }, { prompt: "abc ${{ format('{1}', 1) }}" }] }, ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.path).toEqual(['stages', 1, 'prompt']);
    expect(r.error.offset).toBe(8);
    expect(r.error.message).toContain('refers to argument {1}');
  });

  it('reports parse errors with their path', () => {
    const r = renderDeep({ a: { b: ['x', '${{ 1 ='] } }, ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ path: ['a', 'b', 1], offset: 6 });
  });
});
