import path from 'node:path';
import type { CheckOptions, CheckResult } from '../check/options.js';
import { isRecord } from '../../base/is-record.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { loadYamlFile, locate, originOf, type LoadedFile } from '../load/load.js';
import { declaredParams } from './params.js';
import type { JsonValue, TemplateCall } from '../pipeline.js';
import type { RawScope, RawStage } from '../check/scopes.js';
import { didYouMean, oneOf } from '../suggest.js';
import { resolveTemplateRef } from './template-ref.js';
import { resolveExtends, withProblem } from './templates.js';

/**
 * `pipeline` stages (`uses` + `with`): each template is read and checked as a pipeline of its
 * own — its params filled by `with`, its stages' paths under the calling stage's, its globs
 * resolved in the caller's workspace — and errors inside it are reported in its own file with
 * the chain of `uses` that reached it.
 */
export interface UsesResult {
  diagnostics: Diagnostic[];
  /** Keyed by the calling stage's dotted path. */
  calls: Map<string, TemplateCall>;
}

/** check.ts's checkConfig, handed in: a template is checked as a pipeline of its own. */
export type CheckFile = (file: LoadedFile, options: CheckOptions) => CheckResult;

export function checkUses(loaded: LoadedFile, root: RawScope, options: CheckOptions, checkConfig: CheckFile): UsesResult {
  const result: UsesResult = { diagnostics: [], calls: new Map() };
  const visit = (scope: RawScope) => {
    for (const stage of scope.order) {
      if (stage.def.kind === 'pipeline' && typeof stage.def.uses === 'string') checkCall(loaded, stage, options, result, checkConfig);
      if (stage.body) visit(stage.body);
    }
  };
  visit(root);
  return result;
}

function checkCall(loaded: LoadedFile, stage: RawStage, options: CheckOptions, result: UsesResult, checkConfig: CheckFile): void {
  const ref = stage.def.uses as string;
  const refPos = locate(loaded, [...stage.yamlPath, 'uses']);
  const report = (code: string, message: string, hint?: string) => result.diagnostics.push(diagnostic(loaded.file, refPos, code, message, hint));
  // A relative ref resolves from the file that declares the stage, which may be a template.
  const declaring = originOf(loaded, stage.yamlPath)?.origin.loaded.absPath ?? loaded.absPath;
  const found = resolveTemplateRef(ref, declaring);
  if (!found.ok) return void report('template-missing', found.message, found.hint);
  const chain = [...new Set([...(options.chain ?? []), loaded.absPath, declaring])];
  if (chain.includes(found.absPath)) {
    const names = [...chain.slice(chain.indexOf(found.absPath)), found.absPath].map((p) => path.basename(p));
    return void report('template-cycle', `templates use each other in a cycle: ${names.join(' → ')}`, 'remove one of these `uses` or `extends`');
  }
  const step = `${refPos.file ?? loaded.file}:${refPos.line}:${refPos.column} uses`;
  const via = [...(options.via ?? []), ...(refPos.via ?? []), step];
  const cwd = options.cwd ?? process.cwd();
  const template = loadYamlFile(found.absPath, cwd);
  if (!template.ok) return void result.diagnostics.push(...template.diagnostics.map((d) => ({ ...d, via })));
  const merged = resolveExtends(template.loaded, cwd, chain, via);
  if (merged.diagnostics.length) return void result.diagnostics.push(...merged.diagnostics.map((d) => ({ ...d, via: d.via ?? via })));
  const given = isRecord(stage.def.with) ? (stage.def.with as Record<string, JsonValue>) : {};
  result.diagnostics.push(...checkWith(loaded, stage, merged.loaded, given));
  const checked = checkConfig(merged.loaded, {
    set: [],
    paramValues: staticValues(merged.loaded, given),
    runtimeParams: new Set(Object.entries(given).filter(([, v]) => typeof v === 'string' && v.includes('${{')).map(([id]) => id)),
    forRun: false,
    cwd,
    prefix: stage.path,
    workspace: options.workspace ?? path.dirname(loaded.absPath),
    chain,
    via,
    outerProfiles: profilesOf(loaded, options),
  });
  result.diagnostics.push(...checked.diagnostics.map((d) => ({ ...d, via: [...via, ...(d.via ?? [])] })));
  if (!checked.pipeline) return;
  const outputs = isRecord((merged.loaded.value as Record<string, unknown>).outputs) ? ((merged.loaded.value as Record<string, unknown>).outputs as Record<string, string>) : {};
  result.calls.set(stage.path, { ref, pipeline: checked.pipeline, with: given, outputs });
}

/** Literal `with` values that fit their param; expressions are known only at run time. */
function staticValues(template: LoadedFile, given: Record<string, JsonValue>): Record<string, JsonValue> {
  const specs = declaredParams(template.value);
  const out: Record<string, JsonValue> = {};
  for (const [id, v] of Object.entries(given)) {
    const spec = specs.get(id);
    if (!spec || (typeof v === 'string' && v.includes('${{')) || withProblem(v, spec)) continue;
    out[id] = v;
  }
  return out;
}

/** `with` names only the template's params, and gives every param that has no default. */
function checkWith(loaded: LoadedFile, stage: RawStage, template: LoadedFile, given: Record<string, JsonValue>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const specs = declaredParams(template.value);
  for (const [id, v] of Object.entries(given)) {
    const spec = specs.get(id);
    if (spec) {
      const problem = withProblem(v, spec);
      if (problem) out.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, 'with', id]), 'with-wrong-value', `with ${id}: ${problem}`));
      continue;
    }
    const known = [...specs.keys()];
    out.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, 'with', id], 'key'), 'with-unknown-param',
      `the template "${String(stage.def.uses)}" has no param "${id}"${didYouMean(id, known)}`, known.length ? `its params: ${known.join(', ')}` : 'the template declares no params'));
  }
  for (const [id, spec] of specs) {
    if (spec.default !== undefined || id in given) continue;
    out.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, 'uses']), 'with-missing-param',
      `stage "${stage.path}" does not give the template's required param "${id}"`, `add it under \`with:\`${spec.enum ? ` (one of ${oneOf(spec.enum)})` : ''}`));
  }
  return out;
}

/** The profiles a template's stages may name: its caller's and theirs. */
function profilesOf(caller: LoadedFile, options: CheckOptions): ReadonlySet<string> {
  const own = isRecord(caller.value) && isRecord(caller.value.profiles) ? Object.keys(caller.value.profiles) : [];
  return new Set([...(options.outerProfiles ?? []), ...own]);
}
