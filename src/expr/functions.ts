/**
 * The function table. Names are matched case-insensitively, as in GitHub (`toJson` works).
 * Each entry says its arity, so the static check and the evaluator agree on it.
 *
 * `length(x)` is our addition (GitHub has none): the number of characters of a string,
 * elements of a list, or keys of a map; 0 for null; for a number or boolean, the length of
 * its text form.
 */
import { equals, foldCase, isObject, isPrimitive, toJson, toText, type Value } from './coerce.js';

export interface StatusFunctions {
  success(): boolean;
  failure(): boolean;
  cancelled(): boolean;
}

export interface FunctionDef {
  /** Canonical spelling, used in messages. */
  name: string;
  minArgs: number;
  maxArgs: number;
  /** Status functions depend on the stage's needs, so they are allowed only in `if` and `until`. */
  status: boolean;
  call(args: readonly Value[], status: StatusFunctions): Value;
}

/**
 * Thrown by a function for bad input (invalid JSON, a bad format string). The evaluator
 * catches it and places the message on the call; throwing keeps each function a plain
 * value-to-value mapping.
 */
export class FunctionError extends Error {}

/** `args[i]`, where the arity check already guaranteed it exists. */
function arg(args: readonly Value[], i: number): Value {
  return args[i] ?? null;
}

function defineStatus(name: string, call: (status: StatusFunctions) => boolean): FunctionDef {
  return { name, minArgs: 0, maxArgs: 0, status: true, call: (_args, status) => call(status) };
}

function define(name: string, minArgs: number, maxArgs: number, call: (args: readonly Value[]) => Value): FunctionDef {
  return { name, minArgs, maxArgs, status: false, call: (args) => call(args) };
}

/** String test applied without case when both sides are primitives; false otherwise, as in GitHub. */
function stringTest(test: (haystack: string, needle: string) => boolean) {
  return (args: readonly Value[]): boolean => {
    const a = arg(args, 0);
    const b = arg(args, 1);
    if (!isPrimitive(a) || !isPrimitive(b)) return false;
    return test(foldCase(toText(a)), foldCase(toText(b)));
  };
}

function contains(args: readonly Value[]): boolean {
  const search = arg(args, 0);
  const item = arg(args, 1);
  if (Array.isArray(search)) return search.some((v) => equals(item, v));
  return stringTest((h, n) => h.includes(n))(args);
}

function join(args: readonly Value[]): string {
  const list = arg(args, 0);
  if (isPrimitive(list)) return toText(list);
  if (!Array.isArray(list)) return '';
  const sep = args.length > 1 && isPrimitive(arg(args, 1)) ? toText(arg(args, 1)) : ',';
  return list.map(toText).join(sep);
}

function length(args: readonly Value[]): number {
  const x = arg(args, 0);
  if (Array.isArray(x)) return x.length;
  if (isObject(x)) return Object.keys(x).length;
  return toText(x).length;
}

function fromJSON(args: readonly Value[]): Value {
  const text = toText(arg(args, 0));
  try {
    return JSON.parse(text) as Value;
  } catch (e) {
    throw new FunctionError(`fromJSON: the text is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * `format('{0} and {1}', a, b)`; `{{` and `}}` stand for literal braces. A brace that is
 * neither an escape nor a `{N}` placeholder, or an N past the arguments, is an error.
 */
function format(args: readonly Value[]): string {
  const fmt = toText(arg(args, 0));
  const values = args.slice(1);
  let out = '';
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i] as string;
    const next = fmt[i + 1];
    if ((c === '{' || c === '}') && next === c) {
      out += c;
      i += 2;
    } else if (c === '{') {
      const m = /^\{(\d+)\}/.exec(fmt.slice(i));
      if (!m)
        throw new FunctionError(
          `format: invalid format string '${fmt}' (at position ${i}); write {{ and }} for literal braces`,
        );
      const index = Number(m[1]);
      if (index >= values.length) {
        throw new FunctionError(
          `format: '${fmt}' refers to argument {${index}} but only ${values.length} argument(s) follow the format string`,
        );
      }
      out += toText(values[index] ?? null);
      i += m[0].length;
    } else if (c === '}') {
      throw new FunctionError(
        `format: invalid format string '${fmt}' (unmatched '}' at position ${i}); write }} for a literal brace`,
      );
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

export const FUNCTIONS: readonly FunctionDef[] = [
  defineStatus('success', (s) => s.success()),
  defineStatus('failure', (s) => s.failure()),
  defineStatus('cancelled', (s) => s.cancelled()),
  defineStatus('always', () => true),
  define('contains', 2, 2, contains),
  define(
    'startsWith',
    2,
    2,
    stringTest((h, n) => h.startsWith(n)),
  ),
  define(
    'endsWith',
    2,
    2,
    stringTest((h, n) => h.endsWith(n)),
  ),
  define('join', 1, 2, join),
  define('length', 1, 1, length),
  define('toJSON', 1, 1, (args) => toJson(arg(args, 0))),
  define('fromJSON', 1, 1, fromJSON),
  define('format', 1, Infinity, format),
];

const BY_NAME = new Map(FUNCTIONS.map((f) => [f.name.toLowerCase(), f]));

/** The function of that name, ignoring case. */
export function lookupFunction(name: string): FunctionDef | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** `contains() takes 2 arguments`-style description of a function's arity. */
export function describeArity(f: FunctionDef): string {
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  if (f.minArgs === f.maxArgs) return `${f.name}() takes ${plural(f.minArgs)}`;
  if (f.maxArgs === Infinity) return `${f.name}() takes at least ${plural(f.minArgs)}`;
  return `${f.name}() takes ${f.minArgs} to ${plural(f.maxArgs)}`;
}

/** Null when `count` arguments suit the function, otherwise the message saying why not. */
export function arityError(f: FunctionDef, count: number): string | null {
  if (count >= f.minArgs && count <= f.maxArgs) return null;
  return `${describeArity(f)}, got ${count}`;
}
