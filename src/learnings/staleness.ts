import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolveInWorkspace } from '../workspace/confine.js';
import { createDenyMatcher } from '../workspace/matcher.js';
import type { Learning } from './learning.js';

/**
 * Whether a learning still describes the code: it is stale when one of its `files` no longer
 * has the content hash recorded when it was written (changed, deleted, or now out of reach).
 */

export interface Freshness {
  stale: boolean;
  /** The files that changed or are gone, in the learning's order. */
  changed: string[];
}

/** The sha256 of a workspace file's bytes; undefined when it cannot be read (missing, outside, denied). */
export function hashWorkspaceFile(workspace: string, rel: string): string | undefined {
  const confined = resolveInWorkspace(workspace, rel, { deny: createDenyMatcher(), mode: 'read' });
  if (!confined.ok) return undefined;
  try {
    return createHash('sha256').update(readFileSync(confined.abs)).digest('hex');
  } catch {
    return undefined;
  }
}

/** `hash` is given for tests and for callers that hash many learnings' files once. */
export function freshnessOf(learning: Pick<Learning, 'files'>, workspace: string, hash: (rel: string) => string | undefined = (rel) => hashWorkspaceFile(workspace, rel)): Freshness {
  const changed = learning.files.filter((f) => hash(f.path) !== f.sha256).map((f) => f.path);
  return { stale: changed.length > 0, changed };
}
