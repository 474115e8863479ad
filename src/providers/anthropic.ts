import Anthropic from '@anthropic-ai/sdk';
import type { MessageStreamParams } from '@anthropic-ai/sdk/resources/messages/messages';
import type { Providers } from '../config/generated/factory.js';
import { didYouMean } from '../config/suggest.js';
import { judgeAnthropicError, toProviderError, type ErrorContext } from './anthropic-errors.js';
import { withCacheBreakpoints } from './cache-breakpoints.js';
import { BUILTIN_PRICING, type PricingTable } from './pricing.js';
import { redactor } from './redact.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from './retry.js';
import type { CallOptions, CallResult, ModelRequest, ModelResponse, Provider, ProviderError } from './types.js';

export { withCacheBreakpoints } from './cache-breakpoints.js';

export const DEFAULT_KEY_ENV = 'ANTHROPIC_API_KEY';
export const DEFAULT_BASE_URL = 'https://api.anthropic.com';

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
  /** Per HTTP request, until the response starts; the stage's timeout aborts through the signal. */
  timeoutMs: number;
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
  const base = Number(env.FACTORY_RETRY_BASE_MS);
  return {
    keyEnv,
    apiKey: env[keyEnv] || undefined,
    baseURL: fromConfig ?? (fromEnv || DEFAULT_BASE_URL),
    baseURLFrom: fromConfig !== undefined ? 'providers.anthropic.base_url' : fromEnv ? 'ANTHROPIC_BASE_URL' : 'default',
    pricing,
    retry: env.FACTORY_RETRY_BASE_MS && Number.isFinite(base) && base >= 0 ? { ...DEFAULT_RETRY_POLICY, initialDelayMs: base } : DEFAULT_RETRY_POLICY,
    timeoutMs: 10 * 60_000,
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
      timeoutMs: 10 * 60_000,
      promptCaching: true,
      ...settings,
    };
    this.#redact = redactor({ [this.#settings.keyEnv]: this.#settings.apiKey });
  }

  async call(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    const client = this.#clientOrError();
    if ('error' in client) return { ok: false, error: client.error };
    const body = (this.#settings.promptCaching ? withCacheBreakpoints(request) : request) as MessageStreamParams;
    const { signal, onText, onRetry } = options;
    const result = await withRetries(
      async () => {
        const stream = client.sdk.messages.stream(body, { signal });
        if (onText) stream.on('text', (delta) => onText(delta));
        return plain(await stream.finalMessage());
      },
      (error) => judgeAnthropicError(error, signal),
      this.#settings.retry,
      signal,
      onRetry && ((error, retry, delayMs) => onRetry({ retry, delayMs, error: this.#error(error, request.model, retry - 1, signal) })),
    );
    if (result.ok) return { ok: true, message: result.value };
    return { ok: false, error: this.#error(result.error, request.model, result.retries, signal) };
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
    this.#client ??= new Anthropic({ apiKey: s.apiKey, baseURL: s.baseURL, maxRetries: 0, timeout: s.timeoutMs, logLevel: 'off' });
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
    };
    const mapped = toProviderError(error, ctx);
    return { ...mapped, message: this.#redact(mapped.message) };
  }
}

/** The SDK's accumulated message as plain JSON (its tool inputs are lazy getters). */
function plain(message: ModelResponse): ModelResponse {
  const copy = JSON.parse(JSON.stringify(message)) as ModelResponse & { parsed_output?: unknown };
  delete copy.parsed_output;
  return copy;
}
