import Anthropic from '@anthropic-ai/sdk';
import type { MessageCountTokensParams, MessageStreamParams } from '@anthropic-ai/sdk/resources/messages/messages';
import type { Providers } from '../../config/generated/factory.js';
import { didYouMean } from '../../config/suggest.js';
import { durationMs } from '../../config/units.js';
import { judgeAnthropicError, toProviderError, type ErrorContext } from './errors.js';
import { NO_DEADLINE_MS, streamAttempt } from './stream.js';
import { withCacheBreakpoints } from './cache-breakpoints.js';
import { BUILTIN_PRICING, type PricingTable } from '../../config/pricing.js';
import { redactor } from '../redact.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../retry.js';
import type { CallOptions, CallResult, ModelRequest, Provider, ProviderError } from '../types.js';
import { retryBaseMs } from '../../base/backoff.js';

export { withCacheBreakpoints } from './cache-breakpoints.js';

export const DEFAULT_KEY_ENV = 'ANTHROPIC_API_KEY';
export const DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** `providers.anthropic.request_timeout`: until the response starts (the SDK's own default). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
/**
 * `providers.anthropic.stream_idle_timeout`: the API streams content every few seconds while it
 * answers (and pings, which do not count, while it thinks); a pause this long is a stalled stream.
 * Not shorter: a false alarm pays for the prompt again.
 */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 90_000;

export interface AnthropicSettings {
  /** The variable the key is read from, named in messages (never the key itself). */
  keyEnv: string;
  apiKey: string | undefined;
  baseURL: string;
  /** Where the base URL came from, named when the endpoint cannot be reached. */
  baseURLFrom: 'providers.anthropic.base_url' | 'ANTHROPIC_BASE_URL' | 'default';
  /** For "did you mean" on an unknown model. */
  pricing: PricingTable;
  retry: RetryPolicy;
  /** Per HTTP request, until the response starts; the stage's timeout aborts through the signal. 0: none. */
  requestTimeoutMs: number;
  /** Longest time without a content event once a stream started (`ping` does not count). 0: none. */
  idleTimeoutMs: number;
  /** Mark the stable prefix for prompt caching (withCacheBreakpoints). Default true. */
  promptCaching: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Settings from `providers.anthropic` and the environment: the key from `api_key_env` (default
 * ANTHROPIC_API_KEY), the endpoint from `base_url`, else ANTHROPIC_BASE_URL. The first retry
 * waits FACTORY_RETRY_BASE_MS when that is set (as the engine's stage retries do).
 */
export function anthropicSettings(providers: Providers | undefined, pricing: PricingTable, env: Env): AnthropicSettings {
  const keyEnv = providers?.anthropic?.api_key_env ?? DEFAULT_KEY_ENV;
  const fromConfig = providers?.anthropic?.base_url;
  const fromEnv = env.ANTHROPIC_BASE_URL;
  const duration = (text: string | undefined, fallback: number) => (text === undefined ? undefined : durationMs(text)) ?? fallback;
  return {
    keyEnv,
    apiKey: env[keyEnv] || undefined,
    baseURL: fromConfig ?? (fromEnv || DEFAULT_BASE_URL),
    baseURLFrom: fromConfig !== undefined ? 'providers.anthropic.base_url' : fromEnv ? 'ANTHROPIC_BASE_URL' : 'default',
    pricing,
    retry: env.FACTORY_RETRY_BASE_MS ? { ...DEFAULT_RETRY_POLICY, initialDelayMs: retryBaseMs(env) } : DEFAULT_RETRY_POLICY,
    requestTimeoutMs: duration(providers?.anthropic?.request_timeout, DEFAULT_REQUEST_TIMEOUT_MS),
    idleTimeoutMs: duration(providers?.anthropic?.stream_idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    promptCaching: true,
  };
}

/** The Messages API through the official SDK, always streaming (long answers, live text). */
export class AnthropicProvider implements Provider {
  readonly name = 'anthropic';
  readonly #settings: AnthropicSettings;
  #client: Anthropic | undefined;
  readonly #redact: (text: string) => string;

  constructor(settings: Partial<AnthropicSettings> & Pick<AnthropicSettings, 'apiKey'>) {
    this.#settings = {
      keyEnv: DEFAULT_KEY_ENV,
      baseURL: DEFAULT_BASE_URL,
      baseURLFrom: 'default',
      pricing: BUILTIN_PRICING,
      retry: DEFAULT_RETRY_POLICY,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: DEFAULT_STREAM_IDLE_TIMEOUT_MS,
      promptCaching: true,
      ...settings,
    };
    this.#redact = redactor({ [this.#settings.keyEnv]: this.#settings.apiKey });
  }

  async call(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    const client = this.#clientOrError();
    if ('error' in client) return { ok: false, error: client.error };
    const body = (this.#settings.promptCaching ? withCacheBreakpoints(request) : request) as MessageStreamParams;
    const { signal, onText, onRetry, onUsage } = options;
    const { requestTimeoutMs, idleTimeoutMs } = this.#settings;
    const result = await withRetries(
      () => streamAttempt(client.sdk, body, { signal, requestTimeoutMs, idleTimeoutMs, onText, onUsage }),
      (error) => judgeAnthropicError(error, signal),
      this.#settings.retry,
      signal,
      onRetry && ((error, retry, delayMs) => onRetry({ retry, delayMs, error: this.#error(error, request.model, retry - 1, signal) })),
    );
    if (result.ok) return { ok: true, message: result.value };
    return { ok: false, error: this.#error(result.error, request.model, result.retries, signal) };
  }

  /**
   * The prompt's token count from `POST /v1/messages/count_tokens` (free of charge), retried once
   * at most; undefined when the endpoint cannot tell (no key, a gateway without the
   * route, an error after retries, cancelled).
   */
  async countTokens(request: ModelRequest, signal: AbortSignal): Promise<number | undefined> {
    const client = this.#clientOrError();
    if ('error' in client) return undefined;
    // Only what the endpoint takes: it refuses max_tokens, temperature, stream and the like.
    const { model, messages, system, tools, tool_choice, thinking, output_config } = request;
    const params = { model, messages, system, tools, tool_choice, thinking, output_config };
    for (const k of Object.keys(params) as (keyof typeof params)[]) if (params[k] === undefined) delete params[k];
    const result = await withRetries(
      () => client.sdk.messages.countTokens(params as MessageCountTokensParams, { signal }),
      (error) => judgeAnthropicError(error, signal),
      // One quick retry at most: the count only sharpens a reservation, which has an estimate to fall back on.
      { ...this.#settings.retry, maxRetries: Math.min(this.#settings.retry.maxRetries, 1), maxRetryAfterMs: 5_000 },
      signal,
    );
    return result.ok && Number.isFinite(result.value.input_tokens) ? result.value.input_tokens : undefined;
  }

  /**
   * Before any stage: the key is set, the endpoint answers, and each model is known
   * (`GET /v1/models/{id}`, once per model). An unreachable endpoint or a rejected key is
   * reported once, not per model.
   */
  async preflight(models: readonly string[], signal: AbortSignal): Promise<ProviderError[]> {
    const client = this.#clientOrError();
    if ('error' in client) return [client.error];
    const problems: ProviderError[] = [];
    for (const model of new Set(models)) {
      const result = await withRetries(
        () => client.sdk.models.retrieve(model, {}, { signal }),
        (error) => judgeAnthropicError(error, signal),
        this.#settings.retry,
        signal,
      );
      if (result.ok) continue;
      const error = this.#error(result.error, model, result.retries, signal);
      problems.push(error);
      if (error.kind !== 'not_found') break;
    }
    return problems;
  }

  #clientOrError(): { sdk: Anthropic } | { error: ProviderError } {
    const s = this.#settings;
    if (!s.apiKey) {
      return {
        error: {
          kind: 'config',
          message: `${s.keyEnv} is not set: export ${s.keyEnv}=<your Anthropic API key>${s.keyEnv === DEFAULT_KEY_ENV ? ' (or name another variable with providers.anthropic.api_key_env)' : ''}, or run offline from a cassette with --provider replay --replay FILE`,
        },
      };
    }
    if (!URL.canParse(s.baseURL)) {
      const where = s.baseURLFrom === 'default' ? 'the base URL' : s.baseURLFrom;
      return { error: { kind: 'config', message: `${where} is not a URL: ${JSON.stringify(s.baseURL)} (write it like https://api.anthropic.com)` } };
    }
    this.#client ??= new Anthropic({ apiKey: s.apiKey, baseURL: s.baseURL, maxRetries: 0, timeout: s.requestTimeoutMs > 0 ? s.requestTimeoutMs : NO_DEADLINE_MS, logLevel: 'off' });
    return { sdk: this.#client };
  }

  #error(error: unknown, model: string, retries: number, signal: AbortSignal): ProviderError {
    const s = this.#settings;
    const ctx: ErrorContext = {
      model,
      keyEnv: s.keyEnv,
      baseURL: s.baseURLFrom === 'default' ? s.baseURL : `${s.baseURL} (from ${s.baseURLFrom})`,
      retries,
      suggestion: didYouMean(model, [...s.pricing.keys()].filter((m) => m !== model)),
      signal,
      requestTimeoutMs: s.requestTimeoutMs,
      idleTimeoutMs: s.idleTimeoutMs,
      maxRetryAfterMs: s.retry.maxRetryAfterMs,
    };
    const mapped = toProviderError(error, ctx);
    return { ...mapped, message: this.#redact(mapped.message) };
  }
}
