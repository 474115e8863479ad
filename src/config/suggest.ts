import { distance } from 'fastest-levenshtein';

/**
 * The nearest candidate to a misspelt word, when it is near enough to be a plausible typo:
 * at most a third of the word's length away, and at least two edits so a swapped pair of
 * letters (`modle`) still finds its word; one edit for words of three letters or fewer.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const longest = Math.max(word.length, best.length);
  const allowed = longest <= 3 ? 1 : Math.max(2, Math.floor(longest / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const best = nearest(word, candidates);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** "a, b or c" for messages that list what is allowed. */
export function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v)));
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}
