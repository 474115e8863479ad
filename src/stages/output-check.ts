import path from 'node:path';
import type { StageContext } from '../engine/executor.js';
import type { JsonValue } from '../config/pipeline.js';
import { compileOutputSchema, outputSchemaOf, type OutputCheck } from '../config/output-schema.js';

/** A plan or learn stage's `output_schema` (section 14), read and compiled once the stage runs. */

/** The stage's output schema, compiled; undefined when it has none. */
export function outputCheckOf(ctx: StageContext): { ok: true; value?: { schema: Record<string, JsonValue>; check: OutputCheck } } | { ok: false; message: string } {
  const def = ctx.node.def as { output_schema?: unknown; output_schema_file?: string };
  const dir = (ctx.node.source as { dir?: string }).dir ?? path.dirname(ctx.pipeline.absPath);
  const found = outputSchemaOf(def, dir, ctx.pipeline.dir);
  if (!found.ok) return { ok: false, message: `output_schema_file: ${found.message}` };
  if (!found.schema) return { ok: true };
  const compiled = compileOutputSchema(found.schema);
  if (!compiled.ok) return { ok: false, message: `output_schema: ${compiled.message}` };
  return { ok: true, value: { schema: found.schema, check: compiled.check } };
}
