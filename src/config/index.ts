import { checkConfig } from './check/check.js';
import { sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { loadYamlFile, resolveConfigPath, type LoadedFile } from './load/load.js';
import { resolveExtends } from './templates/templates.js';
import type { Pipeline } from './pipeline.js';

export interface LoadOptions {
  cwd: string;
  /** `--set id=value` entries. */
  set?: readonly string[];
  concurrency?: number;
  /** Required params must be given (apply, plan); validate checks the file alone. */
  forRun?: boolean;
}

/** `file`: the factory.yaml found (absolute), `templates`: the files it extends (absolute); watch mode watches them. */
export type PipelineResult =
  | { ok: true; pipeline: Pipeline; warnings: Diagnostic[]; sources: Map<string, string>; file: string; templates: string[] }
  | { ok: false; diagnostics: Diagnostic[]; sources: Map<string, string>; file?: string; templates: string[] };

/**
 * From a path on the command line to a checked Pipeline: find the file, read it with positions,
 * validate the schema and the semantics. `sources` maps each file shown in a diagnostic to its
 * text, so the CLI can print the offending line.
 */
export function loadPipeline(target: string | undefined, options: LoadOptions): PipelineResult {
  const sources = new Map<string, string>();
  const resolved = resolveConfigPath(target, options.cwd);
  if ('error' in resolved) return { ok: false, diagnostics: [resolved.error], sources, templates: [] };
  const file = resolved.absPath;
  const loaded = loadYamlFile(resolved.absPath, options.cwd);
  if (!loaded.ok) {
    if (loaded.text !== undefined) sources.set(loaded.diagnostics[0]?.file ?? '', loaded.text);
    return { ok: false, diagnostics: loaded.diagnostics, sources, file, templates: [] };
  }
  addSource(sources, loaded.loaded);
  const merged = resolveExtends(loaded.loaded, options.cwd);
  if (merged.diagnostics.some((d) => d.severity === 'error')) {
    // Checking a pipeline whose template could not be read would only add noise.
    for (const d of merged.diagnostics) if (!sources.has(d.file)) addSourceFromDisk(sources, d.file, options.cwd);
    return { ok: false, diagnostics: sortDiagnostics(merged.diagnostics), sources, file, templates: merged.templates };
  }
  const checked = checkConfig(merged.loaded, { set: options.set ?? [], forRun: options.forRun ?? true, cwd: options.cwd, ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}) });
  for (const d of checked.diagnostics) if (!sources.has(d.file)) addSourceFromDisk(sources, d.file, options.cwd);
  if (!checked.pipeline) return { ok: false, diagnostics: checked.diagnostics, sources, file, templates: merged.templates };
  return { ok: true, pipeline: checked.pipeline, warnings: checked.diagnostics, sources, file, templates: merged.templates };
}

function addSource(sources: Map<string, string>, loaded: LoadedFile): void {
  sources.set(loaded.file, loaded.text);
}

function addSourceFromDisk(sources: Map<string, string>, file: string, cwd: string): void {
  const result = loadYamlFile(file.startsWith('/') ? file : `${cwd}/${file}`, cwd);
  const text = result.ok ? result.loaded.text : result.text;
  if (text !== undefined) sources.set(file, text);
}

export type { Diagnostic } from './diagnostics.js';
export type { Pipeline } from './pipeline.js';
