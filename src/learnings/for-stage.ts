import type { LearningWarning } from './learning.js';
import { readStore } from './store.js';
import { freshnessOf, hashWorkspaceFile } from './staleness.js';
import { selectLearnings, type Included, type LearningsUse } from './select.js';

/**
 * The learnings one stage reads, the same way when it runs and when its fingerprint is
 * computed: the store read, each candidate's freshness judged against the workspace, ranked.
 */

/** The globs a stage reaches, from its definition's values (rendered): context, inputs, writes. */
export function reachOf(values: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const key of ['context', 'inputs', 'writes']) {
    const v = values[key];
    const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v.flat() : [];
    for (const g of list) if (typeof g === 'string' && g !== '') out.push(g);
  }
  return out;
}

export function learningsForStage(workspace: string, dir: string, use: LearningsUse, values: Readonly<Record<string, unknown>>): { included: Included[]; warnings: LearningWarning[] } {
  const store = readStore(workspace, dir);
  // Learnings often name the same files: each is hashed once.
  const hashes = new Map<string, string | undefined>();
  const hash = (rel: string) => {
    if (!hashes.has(rel)) hashes.set(rel, hashWorkspaceFile(workspace, rel));
    return hashes.get(rel);
  };
  const included = selectLearnings(store.learnings, use, reachOf(values), (l) => freshnessOf(l, workspace, hash));
  return { included, warnings: store.warnings };
}
