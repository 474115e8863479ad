/**
 * Values and GitHub Actions' coercions: truthiness, conversion to numbers, loose equality and
 * ordering, and rendering as text. Written so that a condition means here what it means in a
 * workflow (see "Evaluate expressions in workflows and actions" in the GitHub docs).
 */
import type { CompareOp } from './ast.js';

export type Value = null | boolean | number | string | Value[] | { [k: string]: Value };
export type ValueObject = { [k: string]: Value };
export type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

export function kindOf(v: Value): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as 'boolean' | 'number' | 'string' | 'object';
}

export function isObject(v: Value): v is ValueObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Null, booleans, numbers and strings; GitHub's string functions only look at these. */
export function isPrimitive(v: Value): v is null | boolean | number | string {
  return v === null || typeof v !== 'object';
}

/** `false`, `0`, `-0`, `''`, `null` and `NaN` are falsy; everything else, `[]` and `{}` included, is truthy. */
export function truthy(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'string') return v !== '';
  return true;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const OCTAL = /^0o[0-7]+$/;
const INFINITY = /^[+-]?Infinity$/;

/**
 * The number a literal or a (trimmed, non-empty) string stands for, NaN when none. We do not use
 * `Number()` alone because it also accepts `0b1` and `-0x1`, which GitHub rejects.
 */
export function parseNumberLiteral(text: string): number {
  if (DECIMAL.test(text)) return Number(text);
  if (HEX.test(text)) return parseInt(text.slice(2), 16);
  if (OCTAL.test(text)) return parseInt(text.slice(2), 8);
  if (INFINITY.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  return NaN;
}

/** null → 0, booleans → 0/1, strings parsed (trimmed, '' → 0), lists and maps → NaN. */
export function toNumber(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim();
    return s === '' ? 0 : parseNumberLiteral(s);
  }
  return NaN;
}

/**
 * Case folding for comparisons, as GitHub's "ordinal ignore case": upper-case everything
 * except the dotless ı, whose upper case `I` would otherwise make 'ı' equal 'i'.
 */
export function foldCase(s: string): string {
  // Written as an escape: one non-ASCII character in a bundle makes V8 hold all of its source as
  // two-byte text (scripts/bundle.mjs checks that none is left).
  return s.replace(/[^\u0131]+/g, (part) => part.toUpperCase());
}

/**
 * Brings two values to a common kind: null and booleans become numbers, and a string meeting
 * a number becomes a number. Lists and maps are never converted.
 */
function coercePair(a: Value, b: Value): [Value, Value] {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka === kb) return [a, b];
  if (ka === 'null' || ka === 'boolean') return coercePair(toNumber(a), b);
  if (kb === 'null' || kb === 'boolean') return coercePair(a, toNumber(b));
  if (ka === 'number' && kb === 'string') return [a, toNumber(b)];
  if (ka === 'string' && kb === 'number') return [toNumber(a), b];
  return [a, b];
}

/** GitHub's `==`: coerced, strings without case, lists and maps by identity, NaN equal to nothing. */
export function equals(left: Value, right: Value): boolean {
  const [a, b] = coercePair(left, right);
  if (kindOf(a) !== kindOf(b)) return false;
  if (typeof a === 'number') return a === b; // NaN === NaN is false, as wanted
  if (typeof a === 'string') return foldCase(a) === foldCase(b as string);
  return a === b;
}

/** -1, 0 or 1 when the coerced values are ordered; undefined when they cannot be (NaN, lists, maps). */
function order(left: Value, right: Value): number | undefined {
  const [a, b] = coercePair(left, right);
  if (kindOf(a) !== kindOf(b)) return undefined;
  if (typeof a === 'number' || typeof a === 'boolean') {
    const x = Number(a);
    const y = Number(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string') {
    const x = foldCase(a);
    const y = foldCase(b as string);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return undefined;
}

export function compare(op: CompareOp, left: Value, right: Value): boolean {
  if (op === '==') return equals(left, right);
  if (op === '!=') return !equals(left, right);
  // `<=` is "equal or less" as in GitHub, so `'a' <= 'A'` holds through case-insensitive equality.
  const o = order(left, right);
  if (op === '<') return o === -1;
  if (op === '>') return o === 1;
  if (op === '<=') return o === -1 || equals(left, right);
  return o === 1 || equals(left, right);
}

/**
 * A number as GitHub renders it: integers without `.0`, at most 15 significant digits (so
 * 0.1 + 0.2 style noise disappears), `-0` as `0`.
 */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return '0';
  if (Number.isSafeInteger(n)) return String(n);
  return String(Number(n.toPrecision(15)));
}

/** JSON with 2-space indentation, as `toJSON` prints; NaN and Infinity become null (JSON has neither). */
export function toJson(v: Value): string {
  return JSON.stringify(v, null, 2);
}

/** A value inside text: null → '', booleans and numbers as written, lists and maps as JSON. */
export function toText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return v;
  return toJson(v);
}
