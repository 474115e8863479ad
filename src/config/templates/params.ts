import { diagnostic, NO_POSITION, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile } from '../load/load.js';
import type { JsonValue } from '../pipeline.js';
import { didYouMean, oneOf } from '../suggest.js';
import { isRecord } from '../../base/is-record.js';

export type ParamType = 'string' | 'number' | 'integer' | 'boolean';

export interface ParamSpec {
  type: ParamType;
  default?: JsonValue;
  enum?: JsonValue[];
  description?: string;
}

const COMMAND_LINE = '--set';

const TYPE_WORDS: Record<ParamType, string> = { string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false' };


/** The declared params, read defensively (the schema reports malformed ones). */
export function declaredParams(config: unknown): Map<string, ParamSpec> {
  const out = new Map<string, ParamSpec>();
  const params = isRecord(config) ? config.params : undefined;
  if (!isRecord(params)) return out;
  for (const [id, raw] of Object.entries(params)) {
    if (!isRecord(raw)) continue;
    const type = (['string', 'number', 'integer', 'boolean'] as const).find((t) => t === raw.type) ?? 'string';
    const spec: ParamSpec = { type };
    if ('default' in raw) spec.default = raw.default as JsonValue;
    if (Array.isArray(raw.enum)) spec.enum = raw.enum as JsonValue[];
    if (typeof raw.description === 'string') spec.description = raw.description;
    out.set(id, spec);
  }
  return out;
}

function fitsType(value: unknown, type: ParamType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
  }
}

/** Turns the text of `--set id=value` into the param's type, or says why it cannot. */
export function coerceParam(text: string, type: ParamType): { ok: true; value: JsonValue } | { ok: false; expected: string } {
  switch (type) {
    case 'string':
      return { ok: true, value: text };
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, expected: 'a number' };
    }
    case 'integer': {
      const n = Number(text);
      return text.trim() !== '' && Number.isInteger(n) ? { ok: true, value: n } : { ok: false, expected: 'a whole number' };
    }
    case 'boolean':
      if (text === 'true') return { ok: true, value: true };
      if (text === 'false') return { ok: true, value: false };
      return { ok: false, expected: '`true` or `false`' };
  }
}

/**
 * Param values for a run: defaults, then `--set`. Checks declared defaults against their type and
 * enum, every `--set` against the declarations, and (when `requireAll`) that every param without a
 * default was given.
 */
export function resolveParams(
  loaded: LoadedFile,
  sets: readonly string[],
  requireAll: boolean,
  given: Readonly<Record<string, JsonValue>> = {},
): { values: Record<string, JsonValue>; diagnostics: Diagnostic[] } {
  const specs = declaredParams(loaded.value);
  const diagnostics: Diagnostic[] = [];
  const values: Record<string, JsonValue> = {};
  const file = loaded.file;
  for (const [id, spec] of specs) {
    if (spec.default === undefined) continue;
    if (!fitsType(spec.default, spec.type)) {
      diagnostics.push(diagnostic(file, locate(loaded, ['params', id, 'default']), 'param-default-type',
        `the default of param "${id}" must be ${TYPE_WORDS[spec.type]}, not ${JSON.stringify(spec.default)}`, `change the default or the param's \`type\``));
      continue;
    }
    if (spec.enum && !spec.enum.includes(spec.default)) {
      diagnostics.push(diagnostic(file, locate(loaded, ['params', id, 'default']), 'param-default-enum',
        `the default of param "${id}" is not one of its allowed values ${oneOf(spec.enum)}`));
      continue;
    }
    values[id] = spec.default;
  }
  const setIds = new Set<string>(Object.keys(given));
  Object.assign(values, given);
  for (const entry of sets) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      diagnostics.push(diagnostic(COMMAND_LINE, NO_POSITION, 'bad-set', `--set ${JSON.stringify(entry)} is not of the form id=value`, 'write `--set id=value`'));
      continue;
    }
    const id = entry.slice(0, eq);
    const text = entry.slice(eq + 1);
    const spec = specs.get(id);
    if (!spec) {
      const known = [...specs.keys()];
      diagnostics.push(diagnostic(COMMAND_LINE, NO_POSITION, 'set-unknown-param', `--set ${id}: the pipeline has no param "${id}"${didYouMean(id, known)}`,
        known.length ? `params: ${known.join(', ')}` : `declare it under \`params:\` in ${file}`));
      continue;
    }
    const coerced = coerceParam(text, spec.type);
    if (!coerced.ok) {
      diagnostics.push(diagnostic(COMMAND_LINE, NO_POSITION, 'set-wrong-type', `--set ${id}=${text}: param "${id}" takes ${coerced.expected}`));
      continue;
    }
    if (spec.enum && !spec.enum.includes(coerced.value)) {
      const near = typeof coerced.value === 'string' ? didYouMean(coerced.value, spec.enum.filter((e): e is string => typeof e === 'string')) : '';
      diagnostics.push(diagnostic(COMMAND_LINE, NO_POSITION, 'set-not-allowed', `--set ${id}=${text}: not an allowed value${near}`, `allowed: ${oneOf(spec.enum)}`));
      continue;
    }
    values[id] = coerced.value;
    setIds.add(id);
  }
  if (requireAll) {
    for (const [id, spec] of specs) {
      if (spec.default === undefined && !setIds.has(id)) {
        diagnostics.push(diagnostic(file, locate(loaded, ['params', id], 'key'), 'param-required',
          `param "${id}" has no default and was not given`, `pass it with \`--set ${id}=...\`, or give it a \`default\``));
      }
    }
  }
  return { values, diagnostics };
}
