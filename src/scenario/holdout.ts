import type { JsonValue, Pipeline, Scope } from '../config/pipeline.js';
import { renderValue } from '../expr/index.js';

/**
 * The holdout (docs/configuration.md): every scenario glob of the pipeline, at any depth, relative to
 * the pipeline's directory. Generate stages deny them to their tools, prompts never include
 * files they match, and only a scenario-validate stage (and its judge) reads them. A glob
 * written with an expression is rendered with the params; one that reads anything else cannot
 * be known before the run and is left out.
 */
export function scenarioGlobs(pipeline: Pick<Pipeline, 'root' | 'params'>): string[] {
  const out = new Set<string>();
  const visit = (scope: Scope) => {
    for (const stage of scope.stages) {
      if (stage.kind === 'scenario-validate') {
        for (const pattern of patternsOf(stage.def as { scenarios?: unknown })) {
          const glob = withParams(pattern, pipeline.params);
          if (glob !== undefined) out.add(normalize(glob));
        }
      }
      if (stage.body) visit(stage.body);
    }
  };
  visit(pipeline.root);
  return [...out];
}

export function patternsOf(def: { scenarios?: unknown }): string[] {
  const s = def.scenarios;
  if (typeof s === 'string') return [s];
  return Array.isArray(s) ? s.filter((p): p is string => typeof p === 'string') : [];
}

function withParams(pattern: string, params: Readonly<Record<string, JsonValue>>): string | undefined {
  if (!pattern.includes('${{')) return pattern;
  const r = renderValue(pattern, { contexts: { params } });
  return r.ok && typeof r.value === 'string' ? r.value : undefined;
}

/** `./scenarios/*.yaml` and `scenarios/*.yaml` are the same glob for matchers. */
function normalize(glob: string): string {
  return glob.replace(/^(\.\/)+/, '');
}
