import { DEFAULT_MAX_LEARNINGS, LEARNINGS_TOKEN_CAP } from '../config/learnings.js';
import { createMatcher } from '../workspace/matcher.js';
import { lastWritten, type Learning } from './learning.js';
import type { Freshness } from './staleness.js';

/**
 * Which learnings a stage reads (docs/learnings.md): those that carry one of its tags or name a
 * file its `context`, `inputs` or `writes` globs match; stale ones only with `include_stale`.
 * Ranked by relevance (tags matched + files matched), then newest first, then by title; at most
 * `max`, and within a token cap counted as a quarter of the UTF-8 bytes.
 */

export { LEARNINGS_TOKEN_CAP };

export interface LearningsUse {
  tags: string[];
  max: number;
  includeStale: boolean;
}

/** `learnings:` as written on a stage (`true` or {tags, max, include_stale}); undefined when off. */
export function learningsUseOf(value: unknown): LearningsUse | undefined {
  if (value === undefined || value === false || value === null) return undefined;
  if (value === true) return { tags: [], max: DEFAULT_MAX_LEARNINGS, includeStale: false };
  const v = value as { tags?: unknown; max?: unknown; include_stale?: unknown };
  const tags = Array.isArray(v.tags) ? v.tags.filter((t): t is string => typeof t === 'string') : [];
  return { tags, max: typeof v.max === 'number' ? v.max : DEFAULT_MAX_LEARNINGS, includeStale: v.include_stale === true };
}

export interface Included {
  learning: Learning;
  freshness: Freshness;
  relevance: number;
}

/** `globs`: the stage's context, inputs and writes, rendered; `freshness` tells each learning's state. */
export function selectLearnings(all: readonly Learning[], use: LearningsUse, globs: readonly string[], freshness: (l: Learning) => Freshness): Included[] {
  const wanted = new Set(use.tags.map((t) => t.toLowerCase()));
  const reach = createMatcher(globs);
  const candidates: Included[] = [];
  for (const learning of all) {
    const tags = learning.tags.filter((t) => wanted.has(t.toLowerCase())).length;
    const files = learning.files.filter((f) => reach.matches(f.path)).length;
    if (tags + files === 0) continue;
    const fresh = freshness(learning);
    if (fresh.stale && !use.includeStale) continue;
    candidates.push({ learning, freshness: fresh, relevance: tags + files });
  }
  candidates.sort(byRank);
  const out: Included[] = [];
  let tokens = 0;
  for (const c of candidates) {
    if (out.length >= use.max) break;
    const cost = tokensOf(c.learning);
    // One that does not fit is passed over; a smaller one further down may still fit.
    if (tokens + cost > LEARNINGS_TOKEN_CAP) continue;
    tokens += cost;
    out.push(c);
  }
  return out;
}

function byRank(a: Included, b: Included): number {
  if (a.relevance !== b.relevance) return b.relevance - a.relevance;
  const ta = lastWritten(a.learning);
  const tb = lastWritten(b.learning);
  if (ta !== tb) return ta < tb ? 1 : -1;
  return a.learning.title < b.learning.title ? -1 : a.learning.title > b.learning.title ? 1 : 0;
}

function tokensOf(l: Learning): number {
  return Math.ceil(Buffer.byteLength(`${l.title}\n${l.body}`) / 4);
}

/** What the included learnings contribute to a fingerprint: their text and freshness, in order. */
export function includedKey(included: readonly Included[]): string {
  return JSON.stringify(included.map((i) => [i.learning.title, i.learning.body, i.learning.tags, i.freshness.stale]));
}
