import type { JsonValue, StageNode } from '../config/pipeline.js';
import {
  children,
  evaluate,
  parseExpression,
  parseTemplate,
  renderParts,
  truthy,
  type EvalContext,
  type Expr,
  type ExprError,
  type TemplatePart,
} from '../expr/index.js';

/**
 * The engine's door to src/expr: strings of the pipeline are parsed once (cached by text) and
 * evaluated with the run-time contexts; errors come back as messages naming file:line:col.
 */

type Parsed<T> = { ok: true; value: T } | { ok: false; error: ExprError };

const templates = new Map<string, Parsed<TemplatePart[]>>();

function parsedTemplate(text: string): Parsed<TemplatePart[]> {
  let hit = templates.get(text);
  if (!hit) {
    const r = parseTemplate(text);
    hit = r.ok ? { ok: true, value: r.parts } : r;
    templates.set(text, hit);
  }
  return hit;
}

export type Evaluated = { ok: true; value: JsonValue } | { ok: false; message: string };

/** Renders a value written at `keyPath` under the stage: strings with `${{ }}` are evaluated, lists and maps deeply. */
export function renderAt(node: StageNode, keyPath: readonly (string | number)[], value: JsonValue, ctx: EvalContext): Evaluated {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return { ok: true, value };
    const parsed = parsedTemplate(value);
    const r = parsed.ok ? renderParts(parsed.value, ctx) : parsed;
    return r.ok ? { ok: true, value: r.value } : { ok: false, message: placed(node, keyPath, r.error) };
  }
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (let i = 0; i < value.length; i++) {
      const r = renderAt(node, [...keyPath, i], value[i] as JsonValue, ctx);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = renderAt(node, [...keyPath, k], v, ctx);
      if (!r.ok) return r;
      Object.defineProperty(out, k, { value: r.value, enumerable: true, writable: true, configurable: true });
    }
    return { ok: true, value: out };
  }
  return { ok: true, value };
}

/** An `if` (or `until`) ready to evaluate, with the status functions it calls. */
export interface Condition {
  /** Evaluates to the condition's truth. */
  test(ctx: EvalContext): { ok: true; value: boolean } | { ok: false; message: string };
  /** Which of success(), failure(), always(), cancelled() appear in it. */
  uses: ReadonlySet<string>;
}

const STATUS_FUNCTIONS = new Set(['success', 'failure', 'always', 'cancelled']);
const conditions = new Map<string, Parsed<{ parts?: TemplatePart[]; ast?: Expr; uses: Set<string> }>>();

/** `if:` as GitHub reads it: with or without `${{ }}`. */
export function condition(node: StageNode, key: 'if' | 'until', text: string): { ok: true; value: Condition } | { ok: false; message: string } {
  const cacheKey = text;
  let parsed = conditions.get(cacheKey);
  if (!parsed) {
    parsed = parseCondition(text);
    conditions.set(cacheKey, parsed);
  }
  if (!parsed.ok) return { ok: false, message: placed(node, [key], parsed.error) };
  const { parts, ast, uses } = parsed.value;
  return {
    ok: true,
    value: {
      uses,
      test(ctx) {
        const r = ast ? evaluate(ast, ctx) : renderParts(parts ?? [], ctx);
        return r.ok ? { ok: true, value: truthy(r.value) } : { ok: false, message: placed(node, [key], r.error) };
      },
    },
  };
}

function parseCondition(text: string): Parsed<{ parts?: TemplatePart[]; ast?: Expr; uses: Set<string> }> {
  if (text.includes('${{')) {
    const r = parsedTemplate(text);
    if (!r.ok) return r;
    const uses = new Set<string>();
    for (const p of r.value) if (p.kind === 'expr') collectCalls(p.ast, uses);
    const only = r.value.length === 1 && r.value[0]?.kind === 'expr' ? r.value[0].ast : undefined;
    return { ok: true, value: only ? { ast: only, uses } : { parts: r.value, uses } };
  }
  const r = parseExpression(text);
  if (!r.ok) return r;
  const uses = new Set<string>();
  collectCalls(r.ast, uses);
  return { ok: true, value: { ast: r.ast, uses } };
}

function collectCalls(node: Expr, into: Set<string>): void {
  const stack: Expr[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.kind === 'call' && STATUS_FUNCTIONS.has(n.name.toLowerCase())) into.add(n.name.toLowerCase());
    stack.push(...children(n));
  }
}

/** "factory.yaml:12:9: message" for an expression error inside the stage's key. */
function placed(node: StageNode, keyPath: readonly (string | number)[], error: ExprError): string {
  const pos = node.source.locate(keyPath);
  const where = pos.line > 0 ? `${node.source.file}:${pos.line}:${pos.column}` : node.source.file;
  return `${where}: ${error.message}${error.hint ? ` (${error.hint})` : ''}`;
}
