/**
 * "Did you mean" suggestions for misspelt names, shared by the static check and the evaluator.
 */
import { closest, distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `name`, ignoring case, when it is close enough to be a plausible
 * typo (a third of the name's length, at least 2 edits); otherwise undefined, because a
 * far-fetched suggestion misleads more than none.
 */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  if (list.length === 0) return undefined;
  const lower = name.toLowerCase();
  const best = closest(
    lower,
    list.map((c) => c.toLowerCase()),
  );
  const index = list.findIndex((c) => c.toLowerCase() === best);
  const limit = Math.max(2, Math.floor(name.length / 3));
  return distance(lower, best) <= limit ? list[index] : undefined;
}

/** ` (did you mean "x"?)` or '' — appended to messages, as the CLI prints them. */
export function suggestionSuffix(name: string, candidates: Iterable<string>): string {
  const s = suggest(name, candidates);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}
