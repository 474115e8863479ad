/**
 * The defaults of the learnings keys (docs/learnings.md), here so that `factory plan`'s estimate
 * and the learnings store (a room above) read the same figures.
 */

export const DEFAULT_LEARNINGS_DIR = 'docs/learnings/';
export const DEFAULT_MAX_LEARNINGS = 5;
/** The most tokens of learnings one prompt gets: about 16 KB of text. */
export const LEARNINGS_TOKEN_CAP = 4000;

/** The pipeline's `learnings.dir`, relative to the workspace, POSIX, without a trailing slash. */
export function learningsDirOf(config: { learnings?: { dir?: string } }): string {
  return (config.learnings?.dir ?? DEFAULT_LEARNINGS_DIR).replace(/\\/g, '/').replace(/^\.\/+/, '').replace(/\/+$/, '');
}
