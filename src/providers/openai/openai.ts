import OpenAI from 'openai';
import type { Providers } from '../../config/generated/factory.js';
import { nearest } from '../../config/suggest.js';
import { durationMs } from '../../config/units.js';
import { retryBaseMs } from '../../base/backoff.js';
import { BUILTIN_PRICING, type PricingTable } from '../../config/pricing.js';
import { redactor } from '../redact.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../retry.js';
import { NO_DEADLINE_MS } from '../stream-limits.js';
import { requestTokenUpperBound } from '../token-estimate.js';
import type { CallOptions, CallResult, ModelRequest, OpenAIApi, Provider, ProviderError, VendorAnswer } from '../types.js';
import { toChatRequest } from './chat.js';
import { judgeOpenAIError, toProviderError } from './errors.js';
import { CutToolCall } from './parts.js';
import { toResponsesRequest } from './responses.js';
import { messageOfVendor } from './vendor-message.js';
import { streamChat, streamResponses, type AttemptOptions } from './stream.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Response } from 'openai/resources/responses/responses';

export const DEFAULT_KEY_ENV = 'OPENAI_API_KEY';
export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 90_000;

export interface OpenAISettings {
  keyEnv: string;
  apiKey: string | undefined;
  baseURL: string;
  baseURLFrom: 'providers.openai.base_url' | 'OPENAI_BASE_URL' | 'default';
  api: OpenAIApi;
  /** For "did you mean" when the endpoint lists no models. */
  pricing: PricingTable;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Settings from `providers.openai` and the environment. The API: `api` when given, else the
 * Responses API on OpenAI's own endpoint and Chat Completions on any other (what local servers
 * and gateways speak).
 */
export function openaiSettings(providers: Providers | undefined, pricing: PricingTable, env: Env): OpenAISettings {
  const given = providers?.openai;
  const keyEnv = given?.api_key_env ?? DEFAULT_KEY_ENV;
  const fromEnv = env.OPENAI_BASE_URL;
  const baseURL = given?.base_url ?? (fromEnv || DEFAULT_BASE_URL);
  const duration = (text: string | undefined, fallback: number) => (text === undefined ? undefined : durationMs(text)) ?? fallback;
  return {
    keyEnv,
    apiKey: env[keyEnv] || undefined,
    baseURL,
    baseURLFrom: given?.base_url !== undefined ? 'providers.openai.base_url' : fromEnv ? 'OPENAI_BASE_URL' : 'default',
    api: given?.api ?? (baseURL.replace(/\/+$/, '') === DEFAULT_BASE_URL ? 'responses' : 'chat'),
    pricing,
    retry: env.FACTORY_RETRY_BASE_MS ? { ...DEFAULT_RETRY_POLICY, initialDelayMs: retryBaseMs(env) } : DEFAULT_RETRY_POLICY,
    requestTimeoutMs: duration(given?.request_timeout, DEFAULT_REQUEST_TIMEOUT_MS),
    idleTimeoutMs: duration(given?.stream_idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
  };
}

/**
 * The OpenAI API through the official SDK, always streaming: the engine's requests (Messages API
 * shapes) mapped onto the Responses API or Chat Completions, and the answers mapped back, so
 * the agent loop and the budgets never know which vendor answered.
 */
export class OpenAIProvider implements Provider {
  readonly name = 'openai';
  readonly #settings: OpenAISettings;
  readonly #redact: (text: string) => string;
  #client: OpenAI | undefined;

  constructor(settings: Partial<OpenAISettings> & Pick<OpenAISettings, 'apiKey'>) {
    this.#settings = {
      keyEnv: DEFAULT_KEY_ENV,
      baseURL: DEFAULT_BASE_URL,
      baseURLFrom: 'default',
      api: 'responses',
      pricing: BUILTIN_PRICING,
      retry: DEFAULT_RETRY_POLICY,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: DEFAULT_STREAM_IDLE_TIMEOUT_MS,
      ...settings,
    };
    this.#redact = redactor({ [this.#settings.keyEnv]: this.#settings.apiKey });
  }

  get api(): OpenAIApi {
    return this.#settings.api;
  }

  async call(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    const client = this.#clientOrError();
    if ('error' in client) return { ok: false, error: client.error };
    const { signal, onText, onRetry, onUsage } = options;
    const s = this.#settings;
    const attempt: AttemptOptions = { signal, requestTimeoutMs: s.requestTimeoutMs, idleTimeoutMs: s.idleTimeoutMs, promptEstimate: () => requestTokenUpperBound(request), onText, onUsage };
    const send = (): Promise<ChatCompletion | Response> => (s.api === 'chat' ? streamChat(client.sdk, toChatRequest(request), attempt) : streamResponses(client.sdk, toResponsesRequest(request), attempt));
    const result = await withRetries(
      send,
      (error) => judgeOpenAIError(error, signal),
      s.retry,
      signal,
      onRetry && ((error, retry, delayMs) => onRetry({ retry, delayMs, error: this.#error(error, request.model, retry - 1, signal) })),
    );
    if (!result.ok) return { ok: false, error: this.#error(result.error, request.model, result.retries, signal) };
    const vendor: VendorAnswer = { provider: 'openai', api: s.api, response: result.value as unknown as Record<string, unknown> };
    try {
      return { ok: true, message: messageOfVendor(vendor), vendor };
    } catch (error) {
      if (error instanceof CutToolCall) return { ok: false, error: this.#error(error, request.model, result.retries, signal) };
      throw error;
    }
  }

  /**
   * Before any stage: the key is set, the endpoint answers and accepts it, and each model is
   * among those it lists (`GET /models`, once). An unknown model is named with the nearest one
   * the endpoint lists (or, when it lists none, the nearest priced one).
   */
  async preflight(models: readonly string[], signal: AbortSignal): Promise<ProviderError[]> {
    const client = this.#clientOrError();
    if ('error' in client) return [client.error];
    const first = models[0] ?? 'the models';
    const listed = await withRetries(
      async () => {
        const ids: string[] = [];
        for await (const model of client.sdk.models.list({ signal })) ids.push(model.id);
        return ids;
      },
      (error) => judgeOpenAIError(error, signal),
      this.#settings.retry,
      signal,
    );
    if (!listed.ok) {
      const error = this.#error(listed.error, first, listed.retries, signal);
      if (error.kind === 'not_found') return [{ ...error, kind: 'config', message: `${this.#where()} answered 404 Not Found to GET /models: is it an OpenAI-compatible API? (check providers.openai.base_url; it usually ends in /v1)` }];
      return [error];
    }
    const known = new Set(listed.value);
    const names = listed.value.length > 0 ? listed.value : [...this.#settings.pricing.keys()];
    return [...new Set(models)]
      .filter((m) => !known.has(m))
      .map((m) => {
        const near = nearest(m, names);
        return { kind: 'not_found', status: 404, message: `unknown model ${m}: ${this.#where()} does not list it${near ? ` (did you mean "${near}"?)` : ''}` };
      });
  }

  #where(): string {
    const s = this.#settings;
    return s.baseURLFrom === 'default' ? `the OpenAI API at ${s.baseURL}` : `${s.baseURL} (from ${s.baseURLFrom})`;
  }

  #clientOrError(): { sdk: OpenAI } | { error: ProviderError } {
    const s = this.#settings;
    if (!s.apiKey) {
      const local = s.baseURLFrom === 'default' ? '' : ' (a local server that needs no key takes any value, e.g. OPENAI_API_KEY=none)';
      return {
        error: {
          kind: 'config',
          message: `${s.keyEnv} is not set: export ${s.keyEnv}=<your OpenAI API key>${local}${s.keyEnv === DEFAULT_KEY_ENV ? ', or name another variable with providers.openai.api_key_env' : ''}, or run offline from a cassette with --provider replay --replay FILE`,
        },
      };
    }
    if (!URL.canParse(s.baseURL)) {
      const where = s.baseURLFrom === 'default' ? 'the base URL' : s.baseURLFrom;
      return { error: { kind: 'config', message: `${where} is not a URL: ${JSON.stringify(s.baseURL)} (write it like https://api.openai.com/v1)` } };
    }
    this.#client ??= new OpenAI({ apiKey: s.apiKey, baseURL: s.baseURL, maxRetries: 0, timeout: s.requestTimeoutMs > 0 ? s.requestTimeoutMs : NO_DEADLINE_MS, logLevel: 'off' });
    return { sdk: this.#client };
  }

  #error(error: unknown, model: string, retries: number, signal: AbortSignal): ProviderError {
    const s = this.#settings;
    const mapped = toProviderError(error, {
      model,
      keyEnv: s.keyEnv,
      baseURL: s.baseURLFrom === 'default' ? s.baseURL : `${s.baseURL} (from ${s.baseURLFrom})`,
      retries,
      signal,
      requestTimeoutMs: s.requestTimeoutMs,
      idleTimeoutMs: s.idleTimeoutMs,
      maxRetryAfterMs: s.retry.maxRetryAfterMs,
    });
    return { ...mapped, message: this.#redact(mapped.message) };
  }
}
