import type { JsonValue } from '../pipeline.js';
import { children, checkExpression, evaluate, parseTemplate, type Expr, type StaticEnv } from '../../expr/index.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locateInString, type LoadedFile, type PathSegment } from '../load/load.js';
import { isRecord } from '../../base/is-record.js';

/**
 * Numbers, switches, durations and budgets written as one expression over params:
 * `max_iterations: ${{ params.rounds }}`, `budget: { cost_usd: ${{ params.max_cost }} }`
 * (docs/configuration.md: a value that is exactly one expression keeps its type). A template can then
 * take them as params. Their values are needed before the run (the loop's bound, plan's
 * estimates, the scheduler's limits), so they are worked out here, once the params are known,
 * and the value takes the expression's place before the schema sees the file; the engine only
 * ever sees the number. So only `params` can be read, and a param whose value is known only at
 * run time (a `uses` call's `with` written as an expression) cannot be.
 */
export interface StaticParams {
  /** Param values known now (defaults, `--set`, literal `with`). */
  values: Readonly<Record<string, JsonValue>>;
  /** Every declared param. */
  declared: ReadonlySet<string>;
  /** Params given as expressions, known only at run time. */
  runtime: ReadonlySet<string>;
}

/** What the key takes: a number, a switch, a duration (`10m`), or a token count (`2M` or a whole number). */
type Want = 'number' | 'boolean' | 'duration' | 'tokens';

/** Typed keys of a stage (in any scope), of `defaults:`, and at the top level. */
const STAGE_KEYS: ReadonlyMap<string, Want> = new Map([
  ['max_iterations', 'number'],
  ['max_items', 'number'],
  ['max_parallel', 'number'],
  ['threshold', 'number'],
  ['approve_threshold', 'number'],
  ['runs', 'number'],
  ['max_turns', 'number'],
  ['max_tool_errors', 'number'],
  ['retries', 'number'],
  ['max_tokens', 'number'],
  ['temperature', 'number'],
  ['continue_on_error', 'boolean'],
  ['diff', 'boolean'],
  ['timeout', 'duration'],
]);
const DEFAULTS_KEYS: ReadonlyMap<string, Want> = new Map([
  ['max_tokens', 'number'],
  ['retries', 'number'],
  ['temperature', 'number'],
  ['timeout', 'duration'],
]);
const TOP_KEYS: ReadonlyMap<string, Want> = new Map([['concurrency', 'number']]);
/** The run's budget, a stage's, and what `ask` adds to one. */
const BUDGET_KEYS: ReadonlyMap<string, Want> = new Map([
  ['tokens', 'tokens'],
  ['cost_usd', 'number'],
  ['wall_time', 'duration'],
  ['warn_at', 'number'],
]);
const WATCH_KEYS: ReadonlyMap<string, Want> = new Map([['debounce', 'duration']]);

/**
 * A stand-in for a value that cannot be worked out now (a required param `validate` was not
 * given, or an expression already reported): within every typed key's range, so that nothing
 * else is reported about it.
 */
const STAND_IN: Record<Want, JsonValue> = { number: 1, boolean: true, duration: '1s', tokens: 1 };
const PARAM_TYPE: Record<Want, string> = { number: '`number` or `integer`', boolean: '`boolean`', duration: '`string` (a duration such as 10m)', tokens: '`integer` or `string` (such as 2M)' };
const STAND_IN_WORD: Record<Want, string> = { number: 'number', boolean: 'true or false', duration: 'duration', tokens: 'token count' };

export function substituteStaticValues(loaded: LoadedFile, params: StaticParams): { loaded: LoadedFile; diagnostics: Diagnostic[] } {
  const found: { at: PathSegment[]; text: string; want: Want }[] = [];
  const config = loaded.value;
  if (!isRecord(config)) return { loaded, diagnostics: [] };
  collect(config, [], TOP_KEYS, found);
  if (isRecord(config.defaults)) collect(config.defaults, ['defaults'], DEFAULTS_KEYS, found);
  if (isRecord(config.budget)) collect(config.budget, ['budget'], BUDGET_KEYS, found);
  if (isRecord(config.watch)) collect(config.watch, ['watch'], WATCH_KEYS, found);
  collectStages(config.stages, ['stages'], found);
  if (found.length === 0) return { loaded, diagnostics: [] };

  const diagnostics: Diagnostic[] = [];
  const value = structuredClone(config);
  for (const f of found) {
    const result = evaluateStatic(loaded, f, params);
    if (!result.ok) diagnostics.push(...result.diagnostics);
    setAt(value, f.at, result.ok ? result.value : STAND_IN[f.want]);
  }
  return { loaded: { ...loaded, value }, diagnostics };
}

/** The typed keys of `map` written as one expression; `at` is where `map` sits. */
function collect(map: Record<string, unknown>, at: readonly PathSegment[], keys: ReadonlyMap<string, Want>, out: { at: PathSegment[]; text: string; want: Want }[]): void {
  // The map's own keys, not the typed ones: a stage has a few of the fourteen.
  for (const key in map) {
    const v = map[key];
    if (typeof v !== 'string') continue;
    const want = keys.get(key);
    if (want !== undefined && isOneExpression(v)) out.push({ at: [...at, key], text: v, want });
  }
}

function collectStages(stages: unknown, at: readonly PathSegment[], out: { at: PathSegment[]; text: string; want: Want }[]): void {
  if (!isRecord(stages)) return;
  for (const id in stages) {
    const stage = stages[id];
    if (!isRecord(stage)) continue;
    const stageAt = [...at, id];
    collect(stage, stageAt, STAGE_KEYS, out);
    if (isRecord(stage.budget)) {
      collect(stage.budget, [...stageAt, 'budget'], BUDGET_KEYS, out);
      if (isRecord(stage.budget.extend)) collect(stage.budget.extend, [...stageAt, 'budget', 'extend'], BUDGET_KEYS, out);
    }
    if (stage.stages !== undefined) collectStages(stage.stages, [...stageAt, 'stages'], out);
  }
}

/** Written as one expression (whether or not it parses: a bad one is reported here, once). */
function isOneExpression(text: string): boolean {
  return /^\s*\$\{\{[\s\S]*\}\}\s*$/.test(text);
}

function evaluateStatic(loaded: LoadedFile, f: { at: PathSegment[]; text: string; want: Want }, params: StaticParams): { ok: true; value: JsonValue } | { ok: false; diagnostics: Diagnostic[] } {
  const key = String(f.at[f.at.length - 1]);
  const fail = (offset: number, length: number, message: string, hint?: string) => ({
    ok: false as const,
    diagnostics: [diagnostic(loaded.file, locateInString(loaded, f.at, f.text, offset, length), 'static-value', message, hint)],
  });
  const parsed = parseTemplate(f.text);
  if (!parsed.ok) return fail(parsed.error.offset, parsed.error.length, `${key}: ${parsed.error.message}`, parsed.error.hint);
  const part = parsed.parts[0];
  if (parsed.parts.length !== 1 || part?.kind !== 'expr') {
    return fail(0, f.text.length, `${key} must be a ${STAND_IN_WORD[f.want]} or one expression, not text around an expression`);
  }
  const env: StaticEnv = { contexts: new Set(['params']), params: params.declared, stages: { visible: new Set(), all: new Set() }, statusFunctions: false, describe: (id) => `stage "${id}"` };
  const errors = checkExpression(part.ast, env);
  if (errors.length > 0) {
    const e = errors[0]!;
    return fail(e.offset + part.sourceOffset, e.length, `${key}: ${e.message}`, `${key} is needed before the run starts, so its expression can read only params`);
  }
  const read = paramsRead(part.ast);
  // Names are matched without case, as the evaluator reads them.
  const declared = (name: string) => [...params.declared].find((d) => d.toLowerCase() === name.toLowerCase()) ?? name;
  const ids = read === 'all' ? [...params.declared] : read.map(declared);
  const late = ids.find((id) => params.runtime.has(id));
  if (late !== undefined) {
    return fail(0, f.text.length, `${key} reads param "${late}", whose value (an expression in \`with\`) is known only at run time`, `give "${late}" a literal value in \`with\`: ${key} is needed before the run starts`);
  }
  // `validate` without a required param: the value is checked once plan or apply is given it.
  if (ids.some((id) => params.values[id] === undefined)) return { ok: true, value: STAND_IN[f.want] };
  const result = evaluate(part.ast, { contexts: { params: params.values } });
  if (!result.ok) return fail(result.error.offset + part.sourceOffset, result.error.length, `${key}: ${result.error.message}`, result.error.hint);
  const v = result.value;
  // Durations and token counts are then checked as if written out (the schema and their units).
  const fits = f.want === 'duration' ? typeof v === 'string' : f.want === 'tokens' ? typeof v === 'string' || typeof v === 'number' : typeof v === f.want;
  if (!fits) {
    return fail(0, f.text.length, `${key}: ${f.text.trim()} is ${JSON.stringify(v)}, not a ${STAND_IN_WORD[f.want]}`, `give the param the type ${PARAM_TYPE[f.want]}`);
  }
  return { ok: true, value: v };
}

/** The params an expression reads by name; 'all' when it reads them in a way known only as it runs (`params[x]`, `params.*`). */
function paramsRead(ast: Expr): string[] | 'all' {
  const names: string[] = [];
  let all = false as boolean; // set inside visit: `as boolean` stops TypeScript narrowing it to false
  const visit = (node: Expr): void => {
    if (node.kind === 'property' && node.object.kind === 'context' && node.object.name.toLowerCase() === 'params') {
      names.push(node.name);
      return;
    }
    if (node.kind === 'context' && node.name.toLowerCase() === 'params') all = true;
    for (const c of children(node)) visit(c);
  };
  visit(ast);
  return all ? 'all' : names;
}

/** Sets a value found by collect(): every step is an own property (a key such as `__proto__` included). */
function setAt(root: Record<string, unknown>, at: readonly PathSegment[], value: JsonValue): void {
  let node: Record<string, unknown> = root;
  for (const seg of at.slice(0, -1)) {
    if (!Object.hasOwn(node, String(seg))) return;
    node = node[String(seg)] as Record<string, unknown>;
  }
  Object.defineProperty(node, String(at[at.length - 1]), { value, writable: true, enumerable: true, configurable: true });
}
