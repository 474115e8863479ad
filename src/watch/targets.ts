import path from 'node:path';
import type { JsonValue, Pipeline, Scope } from '../config/pipeline.js';
import { durationMs } from '../config/units.js';
import { learningsDirOf } from '../config/learnings.js';
import { children, parseTemplate, renderValue, type Expr } from '../expr/index.js';
import type { WatchSpec } from './watcher.js';

/** `watch.debounce` when none is given (docs/configuration.md). */
export const DEFAULT_DEBOUNCE_MS = 200;

/**
 * What `apply --watch` watches (docs/cache-and-watch.md): factory.yaml, the templates it extends or uses
 * (and the files that declare its stages), every `prompt_file`, and the globs of `context`,
 * `inputs`, `scenarios` and `watch.paths`, and the learnings folder when a stage reads learnings — minus `watch.ignore` (and `.git`, `.factory`,
 * `node_modules`, which the watcher never watches). A glob written with an expression is
 * rendered with the params; one that reads stage outputs cannot be known before the run and
 * is left out (its files still count in fingerprints).
 */
export function watchTargets(pipeline: Pipeline, extra: { file: string; templates: readonly string[]; cwd: string }): WatchSpec & { scenarios: string[] } {
  const files = new Set<string>([extra.file, ...extra.templates]);
  const globs = new Set<string>();
  const scenarios = new Set<string>();
  const reads = { learnings: false };
  const visit = (scope: Scope, params: Readonly<Record<string, JsonValue>>) => {
    for (const node of scope.stages) {
      files.add(path.resolve(extra.cwd, node.source.file));
      const def = node.def as unknown as Record<string, unknown>;
      if (def.learnings !== undefined && def.learnings !== false) reads.learnings = true;
      for (const key of ['context', 'inputs', 'scenarios'] as const) {
        for (const g of list(def[key])) {
          const rendered = staticText(g, params);
          if (rendered !== undefined) globs.add(rendered);
          if (rendered !== undefined && key === 'scenarios') scenarios.add(normalize(rendered));
        }
      }
      for (const named of [def.prompt_file, def.output_schema_file]) {
        if (typeof named !== 'string') continue;
        const rendered = staticText(named, params);
        if (rendered !== undefined) files.add(path.resolve(node.source.dir, rendered));
      }
      if (node.template) {
        files.add(node.template.pipeline.absPath);
        visit(node.template.pipeline.root, node.template.pipeline.params);
      } else if (node.body) {
        visit(node.body, params);
      }
    }
  };
  visit(pipeline.root, pipeline.params);
  const watch = (pipeline.config.watch ?? {});
  for (const g of watch.paths ?? []) globs.add(g);
  // A learning edited or added by hand reruns the stages that read it (the run's own writes never do).
  if (reads.learnings) globs.add(`${learningsDirOf(pipeline.config)}/*.md`);
  const debounce = typeof watch.debounce === 'string' ? durationMs(watch.debounce) : undefined;
  return {
    workspace: pipeline.dir,
    files: [...files].sort(),
    globs: [...globs].map(normalize).sort(),
    ignore: [...(watch.ignore ?? [])],
    debounceMs: debounce ?? DEFAULT_DEBOUNCE_MS,
    scenarios: [...scenarios].sort(),
  };
}

/** What to watch while the file does not load: the file itself and the templates it named. */
export function fallbackTargets(previous: WatchSpec | undefined, file: string, templates: readonly string[], workspace: string): WatchSpec {
  const base: WatchSpec = previous ?? { workspace, files: [], globs: [], ignore: [], debounceMs: DEFAULT_DEBOUNCE_MS };
  return { ...base, files: [...new Set([...base.files, file, ...templates])].sort() };
}

/** Two specs watch the same things. */
export function sameTargets(a: WatchSpec | undefined, b: WatchSpec): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The text with its expressions rendered, when they read nothing but params. */
function staticText(text: string, params: Readonly<Record<string, JsonValue>>): string | undefined {
  if (!text.includes('${{')) return text;
  const parsed = parseTemplate(text);
  if (!parsed.ok) return undefined;
  for (const part of parsed.parts) {
    if (part.kind !== 'expr') continue;
    const stack: Expr[] = [part.ast];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.kind === 'context' && n.name.toLowerCase() !== 'params') return undefined;
      stack.push(...children(n));
    }
  }
  const r = renderValue(text, { contexts: { params } });
  return r.ok && typeof r.value === 'string' && r.value !== '' ? r.value : undefined;
}

/** `./src/*.ts` and `src/*.ts` are the same glob to picomatch's relative paths. */
function normalize(glob: string): string {
  return glob.startsWith('./') ? glob.slice(2) : glob;
}
