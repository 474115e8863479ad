import { sleep } from '../base/backoff.js';
/**
 * The provider's own retries, before a stage's `retries` come into play: rate limits, overload,
 * server errors and dropped connections are retried with exponential backoff, or after the wait
 * the API asks for in `retry-after`. The SDK's built-in retries are off (its first delay is fixed
 * at 0.5 s, and it cannot retry a stream that breaks after its headers); this loop covers both.
 */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Delay before the first retry; doubles on each (with up to 25% jitter). */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A `retry-after` longer than this ends the call at once rather than hold the stage. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 3, initialDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };

/** What to do with a failed attempt. */
export interface Verdict {
  retry: boolean;
  /** The wait the server asked for, when it did. */
  afterMs?: number | undefined;
}

export type Retried<T> = { ok: true; value: T; retries: number } | { ok: false; error: unknown; retries: number };

export async function withRetries<T>(
  attempt: () => Promise<T>,
  judge: (error: unknown) => Verdict,
  policy: RetryPolicy,
  signal: AbortSignal,
  onRetry?: (error: unknown, retry: number, delayMs: number) => void,
): Promise<Retried<T>> {
  for (let retries = 0; ; retries++) {
    try {
      return { ok: true, value: await attempt(), retries };
    } catch (error) {
      if (signal.aborted || retries >= policy.maxRetries) return { ok: false, error, retries };
      const verdict = judge(error);
      if (!verdict.retry) return { ok: false, error, retries };
      if (verdict.afterMs !== undefined && verdict.afterMs > policy.maxRetryAfterMs) return { ok: false, error, retries };
      const delay = verdict.afterMs ?? backoffMs(policy, retries);
      onRetry?.(error, retries + 1, delay);
      if (!(await sleep(delay, signal))) return { ok: false, error, retries };
    }
  }
}

/** Delay before retry `done + 1`: initial · 2^done, capped, minus up to 25% jitter. */
export function backoffMs(policy: RetryPolicy, done: number): number {
  const base = Math.min(policy.initialDelayMs * 2 ** done, policy.maxDelayMs);
  return base * (1 - Math.random() * 0.25);
}

/**
 * The wait a response asks for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP
 * date. Undefined when absent or unreadable.
 */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

