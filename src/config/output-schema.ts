import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject } from 'ajv';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { JsonValue } from './pipeline.js';
import { loadYamlFile } from './load/load.js';

/**
 * A plan stage's `output_schema` / `output_schema_file` (docs/models-and-budgets.md): the JSON
 * Schema its answer must match. Compiled with ajv (2020-12, every error) on demand only, so a
 * pipeline without one never loads ajv's compiler.
 */

export type OutputCheck = (value: unknown) => { ok: true } | { ok: false; errors: string[] };

/** The schema a stage declares inline, or read from its file (JSON or YAML), against `dir` (the declaring file's folder). */
export function outputSchemaOf(def: { output_schema?: unknown; output_schema_file?: string }, dir: string, cwd: string): { ok: true; schema: Record<string, JsonValue> | undefined } | { ok: false; message: string } {
  if (def.output_schema !== undefined) return { ok: true, schema: def.output_schema as Record<string, JsonValue> };
  if (def.output_schema_file === undefined) return { ok: true, schema: undefined };
  const file = path.resolve(dir, def.output_schema_file);
  const loaded = loadYamlFile(file, cwd);
  if (!loaded.ok) return { ok: false, message: loaded.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('; ') };
  const value = loaded.loaded.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, message: `${def.output_schema_file} does not hold a JSON Schema (an object)` };
  return { ok: true, schema: value as Record<string, JsonValue> };
}

let ajv: Ajv2020 | undefined;

function compiler(): Ajv2020 {
  // Loaded here rather than imported: the validators of factory.yaml itself are generated at build time.
  const Ajv = (createRequire(import.meta.url)('ajv/dist/2020.js') as { default: typeof Ajv2020 }).default;
  ajv ??= new Ajv({ allErrors: true, strict: false });
  return ajv;
}

/** Compiles `schema`; a schema that is not a valid JSON Schema is a message naming what is wrong. */
export function compileOutputSchema(schema: Record<string, JsonValue>): { ok: true; check: OutputCheck } | { ok: false; message: string } {
  let validate: ReturnType<Ajv2020['compile']>;
  try {
    validate = compiler().compile(schema);
  } catch (err) {
    return { ok: false, message: `not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}` };
  }
  return {
    ok: true,
    check: (value) => (validate(value) ? { ok: true } : { ok: false, errors: (validate.errors ?? []).map(errorText) }),
  };
}

function errorText(e: ErrorObject): string {
  return `${e.instancePath === '' ? 'the answer' : e.instancePath} ${e.message ?? 'is invalid'}`;
}

/**
 * The answer's text as JSON. Structured output is JSON itself; an answer wrapped in one
 * Markdown fence (as models write without it, and cassettes may hold) is taken from inside it.
 */
export function parseAnswer(text: string): { ok: true; value: JsonValue } | { ok: false; error: string } {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  const body = fenced ? fenced[1]! : text;
  try {
    return { ok: true, value: JSON.parse(body) as JsonValue };
  } catch (err) {
    return { ok: false, error: `the answer is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
}
