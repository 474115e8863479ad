import { isDeepStrictEqual } from 'node:util';
import { renderValue } from '../expr/index.js';
import type { JsonValue } from './pipeline.js';
import { isRecord } from '../base/is-record.js';

/**
 * A stage's fan-out (section 13) as the checker and the engine read it: `matrix` or `for_each`,
 * and how the instances are joined. Expanding a matrix is pure (its lists are literal or
 * expressions over params), so `validate`, `plan` and the engine get the same instances.
 */
export const MAX_INSTANCES = 256;

export interface FanoutSpec {
  /** The matrix as written (lists or expressions, plus include/exclude). */
  matrix?: Readonly<Record<string, unknown>>;
  /** The `for_each` expression. */
  forEach?: string;
  maxItems?: number;
  isolate: boolean;
  wait: 'all' | 'first_success';
  /** The `join.pick` expression. */
  pick?: string;
  maxParallel?: number;
}

/** One combination of matrix values. */
export type MatrixValues = Record<string, JsonValue>;

/** The stage's fan-out, or undefined when it runs once. */
export function fanoutOf(def: unknown): FanoutSpec | undefined {
  if (!isRecord(def)) return undefined;
  const matrix = isRecord(def.matrix) ? def.matrix : undefined;
  const forEach = typeof def.for_each === 'string' ? def.for_each : undefined;
  if (!matrix && forEach === undefined) return undefined;
  const join = isRecord(def.join) ? def.join : {};
  const spec: FanoutSpec = { isolate: def.isolate === true, wait: join.wait === 'first_success' ? 'first_success' : 'all' };
  if (matrix) spec.matrix = matrix;
  else if (forEach !== undefined) spec.forEach = forEach;
  if (typeof def.max_items === 'number') spec.maxItems = def.max_items;
  if (typeof join.pick === 'string') spec.pick = join.pick;
  if (typeof def.max_parallel === 'number') spec.maxParallel = def.max_parallel;
  return spec;
}

export type MatrixExpansion =
  | { ok: true; combos: MatrixValues[] }
  | { ok: false; key: string; message: string; hint?: string };

const RESERVED = new Set(['include', 'exclude']);

/** The keys `matrix.<key>` may read: the product's keys and those `include` brings. */
export function matrixKeys(matrix: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set(Object.keys(matrix).filter((k) => !RESERVED.has(k)));
  for (const extra of Array.isArray(matrix.include) ? matrix.include : []) if (isRecord(extra)) for (const k of Object.keys(extra)) keys.add(k);
  return [...keys];
}

/**
 * The instances of a matrix in order: the product of its lists in key order (the first key
 * varies slowest), without the combinations `exclude` matches, then `include`'s, as in GitHub
 * Actions. A list written as an expression is evaluated over `params` only.
 */
export function expandMatrix(matrix: Readonly<Record<string, unknown>>, params: Readonly<Record<string, JsonValue>>): MatrixExpansion {
  const lists: [string, JsonValue[]][] = [];
  for (const [key, raw] of Object.entries(matrix)) {
    if (RESERVED.has(key)) continue;
    const list = matrixList(raw, params);
    if (!list.ok) return { ok: false, key, message: `matrix.${key}: ${list.message}`, hint: 'write a non-empty list, or one expression over params that gives one' };
    if (list.value.length === 0) return { ok: false, key, message: `matrix.${key} is an empty list: the stage would run no instance`, hint: 'give it at least one value, or remove the key' };
    lists.push([key, list.value]);
  }
  let combos: MatrixValues[] = lists.length === 0 ? [] : [{}];
  for (const [key, values] of lists) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  const exclude = (Array.isArray(matrix.exclude) ? matrix.exclude : []).filter(isRecord);
  combos = combos.filter((c) => !exclude.some((e) => Object.entries(e).every(([k, v]) => isDeepStrictEqual(c[k], v))));
  for (const extra of Array.isArray(matrix.include) ? matrix.include : []) if (isRecord(extra)) combos.push({ ...(extra as MatrixValues) });
  if (combos.length === 0) return { ok: false, key: '', message: 'the matrix gives no instance (exclude drops every combination)', hint: 'drop an `exclude` entry, or add an `include`' };
  if (combos.length > MAX_INSTANCES) {
    return { ok: false, key: '', message: `the matrix gives ${combos.length} instances, more than ${MAX_INSTANCES}`, hint: 'split the stage, shorten a list, or `exclude` combinations' };
  }
  return { ok: true, combos };
}

function matrixList(raw: unknown, params: Readonly<Record<string, JsonValue>>): { ok: true; value: JsonValue[] } | { ok: false; message: string } {
  if (Array.isArray(raw)) return { ok: true, value: raw as JsonValue[] };
  if (typeof raw !== 'string') return { ok: false, message: 'is neither a list nor an expression' };
  const r = renderValue(raw, { contexts: { params: params } });
  if (!r.ok) return { ok: false, message: r.error.message };
  if (!Array.isArray(r.value)) return { ok: false, message: `${raw} gives ${JSON.stringify(r.value)}, not a list` };
  return { ok: true, value: r.value };
}

/**
 * A text such as `${{ matrix.model }}` as each combination renders it (with `params`): a string per
 * combination, or undefined where it gives no plain string (an error, empty, or still an expression).
 */
export function renderPerCombination(text: string, combos: readonly MatrixValues[], params: Readonly<Record<string, JsonValue>>): (string | undefined)[] {
  return combos.map((matrix) => {
    const r = renderValue(text, { contexts: { params, matrix } });
    return r.ok && typeof r.value === 'string' && r.value !== '' && !r.value.includes('${{') ? r.value : undefined;
  });
}

/** `approach=refactor model=x`: how progress and summaries name an instance's values. */
export function describeValues(values: MatrixValues | undefined, item?: JsonValue): string {
  if (values) return Object.entries(values).map(([k, v]) => `${k}=${short(v)}`).join(' ');
  return item === undefined ? '' : `item=${short(item)}`;
}

function short(v: JsonValue): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** `attempt[2]` → `attempt`: the stage an instance path belongs to (the last segment only). */
export function stageOfInstance(id: string): string {
  const i = id.indexOf('[');
  return i === -1 ? id : id.slice(0, i);
}

/** `build.attempt[2].generate` → `build.attempt.generate`: the path as written in the file. */
export function withoutInstances(path: string): string {
  return path.replace(/\[\d+\]/g, '');
}

/** `matrix ×3` or `for_each ≤5`: how plan and graph say a stage fans out; undefined when it runs once. */
export function fanoutText(def: unknown, params: Readonly<Record<string, JsonValue>>): string | undefined {
  const spec = fanoutOf(def);
  if (!spec) return undefined;
  if (spec.forEach !== undefined) return `for_each ≤${spec.maxItems ?? '?'}`;
  const m = expandMatrix(spec.matrix ?? {}, params);
  return m.ok ? `matrix ×${m.combos.length}` : 'matrix';
}
