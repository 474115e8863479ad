import path from 'node:path';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, originOf, type LoadedFile } from '../load/load.js';
import { compileOutputSchema, outputSchemaOf } from '../output-schema.js';
import type { RawScope } from './scopes.js';

/**
 * A plan stage's `output_schema` is a valid JSON Schema, from one place: inline or in its
 * `output_schema_file` (docs/models-and-budgets.md). Each problem at the key that holds it.
 */
export function checkOutputSchemas(loaded: LoadedFile, root: RawScope, cwd: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      const def = s.def as { kind?: unknown; output_schema?: unknown; output_schema_file?: unknown };
      if (def.output_schema !== undefined || def.output_schema_file !== undefined) {
        const key = def.output_schema !== undefined ? 'output_schema' : 'output_schema_file';
        const at = locate(loaded, [...s.yamlPath, key], 'key');
        if (def.output_schema !== undefined && def.output_schema_file !== undefined) {
          out.push(diagnostic(loaded.file, locate(loaded, [...s.yamlPath, 'output_schema_file'], 'key'), 'output-schema-twice', `stage "${s.path}" has both \`output_schema\` and \`output_schema_file\``, 'keep one of them'));
        } else if (typeof def.output_schema_file !== 'string' || !def.output_schema_file.includes('${{')) {
          const declaring = originOf(loaded, s.yamlPath)?.origin.loaded.absPath ?? loaded.absPath;
          const found = outputSchemaOf(def as { output_schema?: unknown; output_schema_file?: string }, path.dirname(declaring), cwd);
          if (!found.ok) out.push(diagnostic(loaded.file, at, 'output-schema-file', `output_schema_file of stage "${s.path}": ${found.message}`, 'paths are relative to the directory of the file that declares them; the file holds one JSON Schema, in JSON or YAML'));
          else if (found.schema) {
            const compiled = compileOutputSchema(found.schema);
            if (!compiled.ok) out.push(diagnostic(loaded.file, at, 'output-schema-invalid', `the output schema of stage "${s.path}" is ${compiled.message}`, 'write a JSON Schema (2020-12), e.g. `{type: object, properties: {route: {enum: [fix, ship]}}, required: [route]}`'));
          }
        }
      }
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}
