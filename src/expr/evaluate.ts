/**
 * Evaluates a parsed expression against the contexts of a stage. Pure: it reads values,
 * never runs code, and reports every problem as an ExprError placed on the node at fault.
 */
import type { CallNode, Expr, ExprError } from './ast.js';
import { compare, isObject, isPrimitive, toNumber, toText, truthy, type Value, type ValueObject } from './coerce.js';
import { arityError, FunctionError, FUNCTIONS, lookupFunction, type StatusFunctions } from './functions.js';
import { parseExpression } from './parser.js';
import { suggestionSuffix } from './suggest.js';

export interface EvalContext {
  /** Context name → value, e.g. `{ params: {...}, stages: {...} }`. */
  contexts: Record<string, Value>;
  /** Status of the stage's needs; defaults: success() true, failure() false, cancelled() false. */
  status?: StatusFunctions;
}

export type EvalResult = { ok: true; value: Value } | { ok: false; error: ExprError };

/** The contexts the language defines; one missing from EvalContext reads as null rather than an error. */
export const CONTEXT_NAMES: readonly string[] = ['params', 'stages', 'loop', 'loops', 'env', 'run', 'budget', 'matrix', 'each', 'instance'];

const DEFAULT_STATUS: StatusFunctions = { success: () => true, failure: () => false, cancelled: () => false };

/** Internal signal carrying an error up to `evaluate`, which returns it as a value. */
class EvalFailure extends Error {
  constructor(readonly error: ExprError) {
    super(error.message);
  }
}

export function evaluate(ast: Expr, ctx: EvalContext): EvalResult {
  try {
    return { ok: true, value: new Evaluator(ctx).eval(ast) };
  } catch (e) {
    if (e instanceof EvalFailure) return { ok: false, error: e.error };
    // Anything else (say JSON.stringify of a huge nest) is still a bad expression, not a crash.
    return {
      ok: false,
      error: {
        message: `could not evaluate: ${(e as Error).message}`,
        offset: ast.offset,
        length: Math.max(1, ast.length),
      },
    };
  }
}

/** Parses and evaluates one expression (without `${{ }}`), as `factory eval` does. */
export function evaluateExpression(src: string, ctx: EvalContext): EvalResult {
  const parsed = parseExpression(src);
  return parsed.ok ? evaluate(parsed.ast, ctx) : parsed;
}

/** Reads a key from a map: the exact key first, then ignoring case, as GitHub does. Own keys only. */
export function getProperty(obj: ValueObject, key: string): Value | undefined {
  if (Object.hasOwn(obj, key)) return obj[key];
  const folded = key.toLowerCase();
  const match = Object.keys(obj).find((k) => k.toLowerCase() === folded);
  return match === undefined ? undefined : obj[match];
}

/** An index as GitHub reads it: as a key (when primitive) and as a list position (when a whole number ≥ 0). */
interface Key {
  star: boolean;
  name?: string;
  position?: number;
}

function keyOf(index: Value): Key {
  const key: Key = { star: false };
  if (isPrimitive(index)) key.name = toText(index);
  const n = toNumber(index);
  if (Number.isFinite(n) && n >= 0) key.position = Math.floor(n);
  return key;
}

class Evaluator {
  /**
   * Lists produced by `*`. Access after a filter maps over its elements (GitHub's "filtered
   * array"), while access on an ordinary list indexes it; the set tells the two apart.
   */
  private readonly filtered = new Set<Value[]>();

  constructor(private readonly ctx: EvalContext) {}

  eval(node: Expr): Value {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'context':
        return this.context(node.name, node);
      case 'property':
        return this.access(this.eval(node.object), { star: false, name: node.name });
      case 'index':
        return this.access(this.eval(node.object), keyOf(this.eval(node.index)));
      case 'filter':
        return this.access(this.eval(node.object), { star: true });
      case 'call':
        return this.call(node);
      case 'not':
        return !truthy(this.eval(node.operand));
      case 'compare':
        return compare(node.op, this.eval(node.left), this.eval(node.right));
      case 'logical':
        return this.logical(node.op, node.operands);
    }
  }

  /** `&&` returns the first falsy operand, `||` the first truthy one; otherwise the last. */
  private logical(op: '&&' | '||', operands: Expr[]): Value {
    let result: Value = null;
    for (const operand of operands) {
      result = this.eval(operand);
      if (truthy(result) === (op === '||')) break;
    }
    return result;
  }

  private context(name: string, node: Expr): Value {
    const { contexts } = this.ctx;
    const value = getProperty(contexts, name);
    if (value !== undefined) return value;
    if (CONTEXT_NAMES.includes(name.toLowerCase())) return null;
    const known = [...new Set([...CONTEXT_NAMES, ...Object.keys(contexts)])];
    throw new EvalFailure({
      message: `unknown context "${name}"${suggestionSuffix(name, known)}`,
      offset: node.offset,
      length: node.length,
      hint: `available contexts: ${known.join(', ')}`,
    });
  }

  private access(target: Value, key: Key): Value {
    if (Array.isArray(target) && this.filtered.has(target))
      return this.filter(target.flatMap((item) => this.mapItem(item, key)));
    if (Array.isArray(target)) {
      if (key.star) return this.filter([...target]);
      return key.position !== undefined && key.position < target.length ? (target[key.position] ?? null) : null;
    }
    if (isObject(target)) {
      if (key.star) return this.filter(Object.values(target));
      return key.name === undefined ? null : (getProperty(target, key.name) ?? null);
    }
    // Reading from null, a string, a number or a boolean gives null (or nothing to filter).
    return key.star ? this.filter([]) : null;
  }

  /** One element of a filtered list, accessed: what it contributes to the next filtered list. */
  private mapItem(item: Value, key: Key): Value[] {
    if (Array.isArray(item)) {
      if (key.star) return item;
      const v = key.position !== undefined ? item[key.position] : undefined;
      return v === undefined ? [] : [v];
    }
    if (isObject(item)) {
      if (key.star) return Object.values(item);
      const v = key.name === undefined ? undefined : getProperty(item, key.name);
      return v === undefined ? [] : [v];
    }
    return [];
  }

  private filter(list: Value[]): Value[] {
    this.filtered.add(list);
    return list;
  }

  private call(node: CallNode): Value {
    const f = lookupFunction(node.name);
    const at = { offset: node.nameOffset, length: node.name.length };
    if (f === undefined) {
      throw new EvalFailure({
        message: `unknown function "${node.name}"${suggestionSuffix(
          node.name,
          FUNCTIONS.map((fn) => fn.name),
        )}`,
        ...at,
      });
    }
    const arity = arityError(f, node.args.length);
    if (arity !== null) throw new EvalFailure({ message: arity, ...at });
    const args = node.args.map((a) => this.eval(a));
    try {
      return f.call(args, this.ctx.status ?? DEFAULT_STATUS);
    } catch (e) {
      if (e instanceof FunctionError)
        throw new EvalFailure({ message: e.message, offset: node.offset, length: node.length });
      throw e;
    }
  }
}
