/** Delay before retry n (1-based): base·2^(n-1), capped. The base comes from FACTORY_RETRY_BASE_MS (default 200). */
export const DEFAULT_RETRY_BASE_MS = 200;
export const MAX_RETRY_DELAY_MS = 10_000;

export function retryBaseMs(env: Readonly<NodeJS.ProcessEnv>): number {
  const raw = env.FACTORY_RETRY_BASE_MS;
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_RETRY_BASE_MS;
}

export function retryDelayMs(base: number, retry: number): number {
  return Math.min(base * 2 ** (retry - 1), MAX_RETRY_DELAY_MS);
}

/** Waits `ms`, or less when `signal` aborts; resolves false when aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
