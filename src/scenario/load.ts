import path from 'node:path';
import { expandGlobs } from '../config/files.js';
import type { Scenario } from '../config/generated/scenario.js';
import { loadYamlFile } from '../config/load/load.js';
import { validateAgainstSchema } from '../config/schema.js';
import type { Diagnostic } from '../config/diagnostics.js';

export interface LoadedScenario {
  /** Path relative to the workspace, as shown in records. */
  file: string;
  scenario: Scenario;
}

export type ScenariosLoad = { ok: true; scenarios: LoadedScenario[] } | { ok: false; message: string };

/**
 * The scenario files the globs match (relative to the workspace), each read with positions and
 * checked against schemas/scenario.schema.json. A glob matching nothing, or a file that does
 * not parse or validate, is refused with file:line:col: validate reports the same before a run,
 * so this happens only when the files changed since.
 */
export function loadScenarios(patterns: readonly string[], workspace: string, cwd = process.cwd()): ScenariosLoad {
  const files: string[] = [];
  for (const pattern of patterns) {
    const matched = expandGlobs([pattern], workspace);
    if (matched.length === 0) return { ok: false, message: `the scenario glob "${pattern}" matches no file in ${workspace}` };
    for (const f of matched) if (!files.includes(f)) files.push(f);
  }
  const scenarios: LoadedScenario[] = [];
  const names = new Map<string, string>();
  for (const file of files) {
    const loaded = loadYamlFile(path.join(workspace, file), cwd);
    if (!loaded.ok) return { ok: false, message: describe(loaded.diagnostics) };
    const problems = validateAgainstSchema(loaded.loaded, 'scenario');
    if (problems.length > 0) return { ok: false, message: describe(problems) };
    const scenario = loaded.loaded.value as Scenario;
    const seen = names.get(scenario.name);
    if (seen !== undefined) return { ok: false, message: `${file}: scenario name "${scenario.name}" is also used by ${seen}; names must be unique (results and judge calls are keyed by them)` };
    names.set(scenario.name, file);
    scenarios.push({ file, scenario });
  }
  return { ok: true, scenarios };
}

function describe(diagnostics: readonly Diagnostic[]): string {
  return diagnostics
    .map((d) => `${d.file}${d.line > 0 ? `:${d.line}:${d.column}` : ''}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`)
    .join('; ');
}
