import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile } from '../load/load.js';
import { resolveInWorkspace } from '../../workspace/confine.js';
import { createDenyMatcher } from '../../workspace/matcher.js';
import { isRecord } from '../../base/is-record.js';
import { learningsDirOf } from '../learnings.js';
import type { RawScope } from './scopes.js';

/**
 * `learnings.dir` (docs/learnings.md) names a folder a learn stage may write: inside the
 * workspace, not in a denied path (.git, .factory, .env) and not among the scenarios (the
 * holdout a model must never see). Checked at its line, before any run.
 */
export function checkLearningsDir(loaded: LoadedFile, config: Record<string, unknown>, root: RawScope, workspace: string): Diagnostic[] {
  const dir = isRecord(config.learnings) ? config.learnings.dir : undefined;
  if (typeof dir !== 'string' || dir === '' || dir.includes('${{')) return [];
  const deny = createDenyMatcher(scenarioPatterns(root));
  const folder = learningsDirOf({ learnings: { dir } });
  const confined = resolveInWorkspace(workspace, `${folder}/learning.md`, { deny, mode: 'write' });
  if (confined.ok && folder !== '') return [];
  const why =
    folder === '' ? 'names the workspace folder itself (every Markdown file there would be read as a learning)'
    : !confined.ok && confined.reason === 'denied' ? 'is inside a path no model stage may read or write (.git, .factory, .env or the scenarios)'
    : 'is not a folder inside the workspace';
  return [diagnostic(loaded.file, locate(loaded, ['learnings', 'dir']), 'learnings-dir', `learnings.dir "${dir}" ${why}`, 'name a folder of the workspace outside .git, .factory and the scenarios, e.g. `learnings: { dir: docs/learnings/ }`')];
}

/** Every scenario glob written without expressions, at any depth. */
function scenarioPatterns(root: RawScope): string[] {
  const out: string[] = [];
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      const def = s.def as { kind?: unknown; scenarios?: unknown };
      if (def.kind === 'scenario-validate') {
        const list = typeof def.scenarios === 'string' ? [def.scenarios] : Array.isArray(def.scenarios) ? def.scenarios : [];
        for (const g of list) if (typeof g === 'string' && !g.includes('${{')) out.push(g);
      }
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}
