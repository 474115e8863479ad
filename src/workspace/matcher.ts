import picomatch from 'picomatch';

/**
 * A set of globs matched against workspace-relative POSIX paths. A path matches when it or any
 * of its ancestor folders matches, so `secrets` covers `secrets/key.pem` and listing never
 * descends into a denied folder.
 */
export interface Matcher {
  readonly patterns: readonly string[];
  matches(rel: string): boolean;
}

/** Globs an agent may never read or write, whatever the stage says (docs/configuration.md). */
export const DEFAULT_DENY: readonly string[] = ['.git', '.git/**', '.factory/**', '.env', '.env.*'];

export interface MatcherOptions {
  /** Match case-insensitively (used for deny lists: stricter on case-sensitive disks, right on the others). */
  nocase?: boolean;
}

export function createMatcher(patterns: readonly string[], options: MatcherOptions = {}): Matcher {
  const cleaned = patterns.map(cleanPattern).filter((p) => p !== '');
  const test =
    cleaned.length === 0 ? () => false : picomatch(cleaned, { dot: true, windows: false, nocase: options.nocase === true });
  return {
    patterns: cleaned,
    matches(rel: string): boolean {
      if (rel === '') return false;
      const parts = rel.split('/');
      for (let i = 1; i <= parts.length; i++) if (test(parts.slice(0, i).join('/'))) return true;
      return false;
    },
  };
}

/** The deny list of a stage: the defaults, the stage's `deny` and the pipeline's scenario globs. Case-insensitive. */
export function createDenyMatcher(...lists: readonly (readonly string[] | undefined)[]): Matcher {
  return createMatcher([...DEFAULT_DENY, ...lists.flatMap((l) => l ?? [])], { nocase: true });
}

function cleanPattern(pattern: string): string {
  let p = pattern.trim();
  while (p.startsWith('./')) p = p.slice(2);
  while (p.startsWith('/')) p = p.slice(1);
  return p;
}
