import { InvalidArgumentError } from 'commander';

/** Collects a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Splits `a,b` lists (`--only build,test`), allowing the option to repeat. */
export function commaList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

/** `2`, or `2.1` for a stage in nested loops (outer iteration 2, inner 1): whole numbers of at least 1. */
export function iterationChain(value: string): number[] {
  const chain = value.split('.').map(Number);
  if (!chain.every((n) => Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError('expected an iteration (a whole number of at least 1), or 2.1 for nested loops.');
  return chain;
}

export function choice<T extends string>(allowed: readonly T[]): (value: string) => T {
  return (value) => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`expected one of: ${allowed.join(', ')}.`);
  };
}
