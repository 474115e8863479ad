import { createMatcher } from '../../workspace/matcher.js';
import type { StageNode } from '../../config/pipeline.js';
import type { FileChange } from '../cache/cache.js';
import type { FingerprintParts } from '../cache/fingerprint.js';

/**
 * What a cached command produces (docs/cache-and-watch.md): the files its `writes` globs declare, like
 * wireit's `output`. Those are its own, whoever else ran meanwhile (never `shared`): a hit
 * restores them and one edited since makes it run again. Any other change it made — a log
 * several stages append to — is not its output: never restored and never a reason to run
 * again (its entry still holds it, so that a review of a cached run diffs what the run did).
 * Other kinds own every change they made.
 */
export function ownChanges(node: StageNode, changes: readonly FileChange[], parts: FingerprintParts | undefined): FileChange[] {
  if (node.kind !== 'command') return [...changes];
  const isOutput = outputFilter(node, parts);
  return changes.filter((c) => isOutput(c.path)).map(({ shared: _shared, ...own }) => own);
}

/** Whether a changed path is the stage's output: for a command, one its `writes` declare; for other kinds, any. */
function outputFilter(node: StageNode, parts: FingerprintParts | undefined): (rel: string) => boolean {
  if (node.kind !== 'command') return () => true;
  const globs = writesOf(node, parts);
  if (globs.length === 0) return () => false;
  const declared = createMatcher(globs);
  return (rel) => declared.matches(rel);
}

/** The `writes` globs, rendered when the fingerprint rendered them (expressions over params). */
function writesOf(node: StageNode, parts: FingerprintParts | undefined): string[] {
  const rendered = (parts?.definition as { rendered?: { writes?: unknown } } | undefined)?.rendered?.writes;
  const raw = Array.isArray(rendered) ? rendered : (node.def as { writes?: unknown }).writes;
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [];
  return list.filter((g): g is string => typeof g === 'string' && !g.includes('${{'));
}
