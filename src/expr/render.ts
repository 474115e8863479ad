/**
 * Turns config strings holding `${{ }}` into values: a string that is exactly one expression
 * keeps the expression's type; otherwise each expression is rendered as text in place.
 */
import type { ExprError } from './ast.js';
import { toText, type Value } from './coerce.js';
import { evaluate, type EvalContext } from './evaluate.js';
import { parseTemplate, shiftError, type TemplatePart } from './template.js';

export type RenderResult = { ok: true; value: Value } | { ok: false; error: ExprError };

/** Keys and indexes from the root of a JSON value to a string inside it. */
export type JsonPath = (string | number)[];

export interface RenderError extends ExprError {
  /** Where in the walked value the failing string sits. */
  path: JsonPath;
}

export type RenderDeepResult = { ok: true; value: Value } | { ok: false; error: RenderError };

/** Renders one string; error offsets are into `text`. */
export function renderValue(text: string, ctx: EvalContext): RenderResult {
  if (!text.includes('${{')) return { ok: true, value: text };
  const parsed = parseTemplate(text);
  return parsed.ok ? renderParts(parsed.parts, ctx) : parsed;
}

/** Renders an already parsed template (callers that render the same string often parse once). */
export function renderParts(parts: readonly TemplatePart[], ctx: EvalContext): RenderResult {
  const only = parts.length === 1 ? parts[0] : undefined;
  if (only?.kind === 'expr') {
    const result = evaluate(only.ast, ctx);
    return result.ok ? result : { ok: false, error: shiftError(result.error, only.sourceOffset) };
  }
  let text = '';
  for (const part of parts) {
    if (part.kind === 'text') {
      text += part.value;
      continue;
    }
    const result = evaluate(part.ast, ctx);
    if (!result.ok) return { ok: false, error: shiftError(result.error, part.sourceOffset) };
    text += toText(result.value);
  }
  return { ok: true, value: text };
}

/** Walks plain JSON, rendering every string value (map keys are left alone). */
export function renderDeep(value: Value, ctx: EvalContext, path: JsonPath = []): RenderDeepResult {
  if (typeof value === 'string') {
    const r = renderValue(value, ctx);
    return r.ok ? r : { ok: false, error: { ...r.error, path } };
  }
  if (Array.isArray(value))
    return renderEach(
      value.map((v, i) => [i, v] as const),
      ctx,
      path,
      (items) => items.map(([, v]) => v),
    );
  if (value !== null && typeof value === 'object') {
    // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
    return renderEach(Object.entries(value), ctx, path, (items) => Object.fromEntries(items));
  }
  return { ok: true, value };
}

function renderEach<K extends string | number>(
  items: ReadonlyArray<readonly [K, Value]>,
  ctx: EvalContext,
  path: JsonPath,
  rebuild: (items: Array<[K, Value]>) => Value,
): RenderDeepResult {
  const out: Array<[K, Value]> = [];
  for (const [key, item] of items) {
    const r = renderDeep(item, ctx, [...path, key]);
    if (!r.ok) return r;
    out.push([key, r.value]);
  }
  return { ok: true, value: rebuild(out) };
}
