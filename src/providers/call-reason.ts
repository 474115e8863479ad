import type { ModelCallReason } from '../records/reasons.js';
import type { ProviderError } from './types.js';

/**
 * The typed reason of a model call a provider could not answer: `cancelled` when it was
 * aborted, `config` for a cassette without the answer (no retry changes that), else `provider`
 * with the error's kind, HTTP status and the wait the server asked for.
 */
export function callReason(error: ProviderError, aborted = false): ModelCallReason {
  if (aborted || error.kind === 'aborted') return { kind: 'cancelled' };
  if (error.kind === 'cassette') return { kind: 'config' };
  return {
    kind: 'provider',
    cause: error.kind,
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
  };
}
