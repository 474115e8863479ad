import type { BudgetLedger, Exhausted } from '../budget/budget.js';

/**
 * A model call's signal that also fires when a `wall_time` budget of its scopes runs out, so a
 * call in flight is stopped at the budget rather than when it happens to end (docs/models-and-budgets.md).
 * Time a human is asked for pauses the clocks: the timer then looks again rather than fire.
 */
export interface WallDeadline {
  signal: AbortSignal;
  /** The wall_time budget that ran out during the call, if one did. */
  exhausted(): Exhausted | undefined;
  clear(): void;
}

export function wallDeadline(ledger: BudgetLedger, signal: AbortSignal): WallDeadline {
  const controller = new AbortController();
  const watch = watchWallTime(ledger, () => controller.abort('wall_time'));
  if (!watch) return { signal, exhausted: () => undefined, clear: () => undefined };
  return { signal: AbortSignal.any([signal, controller.signal]), exhausted: watch.exhausted, clear: watch.clear };
}

/**
 * Calls `onExhausted` once when a wall_time budget of the ledger's scopes runs out; undefined
 * when none applies. Paused time (a human asked) moves the moment: the timer looks again.
 */
export function watchWallTime(ledger: BudgetLedger, onExhausted: (e: Exhausted) => void): { exhausted: () => Exhausted | undefined; clear: () => void } | undefined {
  const left = ledger.remaining().wall_time_ms;
  if (left === null) return undefined;
  let timer: NodeJS.Timeout | undefined;
  let hit: Exhausted | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      const still = ledger.remaining().wall_time_ms ?? 0;
      if (still > 0) return arm(still);
      hit = wallTimeExhausted(ledger);
      if (hit) onExhausted(hit);
    }, Math.max(0, ms));
    timer.unref();
  };
  arm(left);
  return { exhausted: () => hit, clear: () => clearTimeout(timer) };
}

/** The wall_time budget with nothing left, innermost scope first. */
export function wallTimeExhausted(ledger: BudgetLedger): Exhausted | undefined {
  for (const l of ledger.chain()) {
    const limit = l.limits.wall_time_ms;
    if (limit !== undefined && l.elapsedMs() >= limit) return { scope: l.scope, budget: 'wall_time', spent: l.elapsedMs(), limit };
  }
  return undefined;
}

/** Waits for `promise`; false when the signal fires first. */
export async function untilOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<false>((resolve) => {
    onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise.then(() => true as const), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
