import type { LoopIteration } from '../config/generated/run.js';

/**
 * Where a stage runs in its loops (SPEC section 12): absent (or 0 in a cassette) in no loop, the
 * loop's iteration (1-based) in one loop, and the iterations from the outermost loop in
 * (`[2, 1]`) in nested loops — so every run of a nested body has its own key, and records,
 * transcripts and cassette calls of one outer iteration never overwrite another's.
 */
export type Iteration = LoopIteration;
/** What the helpers take: an iteration, or a chain being built. */
type Chain = Iteration | readonly number[];

/** The iterations from the outermost loop in; [] in no loop (undefined or 0). */
export function chainOf(it: Chain | undefined): number[] {
  if (it === undefined) return [];
  if (typeof it === 'number') return it === 0 ? [] : [it];
  return [...it];
}

/** The iteration of a body run by a loop that itself runs at `outer`: a number in one loop, the chain in nested ones. */
export function deeper(outer: Chain | undefined, inner: number): Iteration {
  const chain = chainOf(outer);
  const [first, ...rest] = chain;
  return first === undefined ? inner : [first, ...rest, inner];
}

/** The innermost loop's iteration, or undefined in no loop. */
export function innermost(it: Chain | undefined): number | undefined {
  return chainOf(it).at(-1);
}

/** Whether two iterations are the same place (`2` and `[2]` are; `undefined` and `0` are). */
export function sameIteration(a: Chain | undefined, b: Chain | undefined): boolean {
  const x = chainOf(a);
  const y = chainOf(b);
  return x.length === y.length && x.every((n, i) => n === y[i]);
}

/** Whether `it` lies inside `prefix` (its chain starts with prefix's). */
export function within(it: Chain | undefined, prefix: Chain | undefined): boolean {
  const x = chainOf(it);
  const p = chainOf(prefix);
  return p.length <= x.length && p.every((n, i) => n === x[i]);
}

/** Orders iterations: outer first, then inner (no loop first). */
export function compareIterations(a: Chain | undefined, b: Chain | undefined): number {
  const x = chainOf(a);
  const y = chainOf(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** `2`, or `2.1` for a chain: the form in file names and map keys; '' in no loop. */
export function iterationKey(it: Chain | undefined): string {
  return chainOf(it).join('.');
}

/** `iteration 2`, or `iteration [2, 1]` for a chain (as a cassette writes it): the form in messages. */
export function iterationText(it: Chain | undefined): string {
  const chain = chainOf(it);
  return chain.length <= 1 ? `iteration ${chain[0] ?? 0}` : `iteration [${chain.join(', ')}]`;
}

/** A value read from a record or a cassette, if it is an iteration. */
export function isIteration(v: unknown): v is Iteration {
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  return ok(v) || (Array.isArray(v) && v.length > 0 && v.every((n) => ok(n) && n !== 0));
}
