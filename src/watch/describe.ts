import { existsSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { ALWAYS_IGNORED } from '../config/files.js';
import type { Pipeline, Scope } from '../config/pipeline.js';
import type { WatchSpec } from './watcher.js';

/**
 * What `apply --watch` tells the person watching when it starts (or its targets change): how
 * many files it watches and by which names and globs, and which command stages declare no
 * `inputs` — editing what those read is not seen, so it reruns nothing (Taskfile's `sources`,
 * wireit's `files`: what is not declared is not watched).
 */
export function watchingLines(spec: WatchSpec, pipeline: Pipeline): string[] {
  const rel = (f: string) => path.relative(spec.workspace, path.resolve(spec.workspace, f)).split(path.sep).join('/') || f;
  const named = spec.files.map(rel);
  const matched = spec.globs.length ? globSync([...spec.globs], { cwd: spec.workspace, ignore: [...ALWAYS_IGNORED, ...spec.ignore], dot: true, onlyFiles: true, expandDirectories: false }) : [];
  const count = new Set([...named.filter((f) => existsSync(path.resolve(spec.workspace, f))), ...matched]).size;
  const what = [named.length ? list(named) : '', spec.globs.length ? `the glob${spec.globs.length === 1 ? '' : 's'} ${list(spec.globs)}` : ''].filter(Boolean).join(' and ');
  const ignored = spec.ignore.length ? `, ignoring ${list(spec.ignore)}` : '';
  const lines = [`factory: watching ${count} file${count === 1 ? '' : 's'}: ${what}${ignored}`];
  const blind = commandsWithoutInputs(pipeline.root);
  if (blind.length > 0) {
    const they = blind.length === 1 ? `stage ${blind[0]} declares` : `stages ${list(blind)} declare`;
    lines.push(`factory: ${they} no \`inputs\`: editing the files ${blind.length === 1 ? 'it reads' : 'they read'} will not rerun ${blind.length === 1 ? 'it' : 'them'} (declare them as \`inputs:\` globs, or add them to \`watch.paths\`)`);
  }
  return lines;
}

/** Command stages (loop bodies and templates included) without `inputs`. */
function commandsWithoutInputs(scope: Scope): string[] {
  return scope.stages.flatMap((node) => {
    const own = node.kind === 'command' && (node.def as { inputs?: unknown }).inputs === undefined ? [node.path] : [];
    const inner = node.template ? commandsWithoutInputs(node.template.pipeline.root) : node.body ? commandsWithoutInputs(node.body) : [];
    return [...own, ...inner];
  });
}

function list(items: readonly string[]): string {
  return items.length > 5 ? `${items.slice(0, 5).join(', ')} (+${items.length - 5} more)` : items.join(', ');
}
