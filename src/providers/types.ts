import type { Message, MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import type { Diagnostic } from '../config/diagnostics.js';
import type { Usage } from '../base/usage.js';
import type { Iteration } from '../records/iteration.js';

/**
 * What model stages ask of a provider: one Messages API call. Requests and responses use the
 * Messages API's own shapes, so a cassette holds exactly what the API returned and a recorded
 * request can be compared with a live one.
 */
export type ModelRequest = MessageCreateParamsNonStreaming;
export type ModelResponse = Message;

/** Which call this is, for cassettes (docs/running.md) and records. */
export interface CallKey {
  /** Dotted stage path, e.g. `build.generate`. */
  stage: string;
  /** Loop iteration (1-based) inside a loop body, the chain of iterations (`[2, 1]`) in nested loops; 0 outside one. */
  iteration: Iteration;
  /** 1-based count of this stage's model calls within the iteration. */
  call: number;
  /** A judge's calls are keyed by scenario name and run instead of `call`. */
  scenario?: string;
  run?: number;
}

export interface CallOptions {
  key: CallKey;
  /** Aborted on Ctrl-C, stage timeout or watch-mode rerun: the request is cancelled. */
  signal: AbortSignal;
  /** Streamed text as it arrives, for live progress. */
  onText?: (chunk: string) => void;
  /**
   * The provider is about to try again after a 429, 529, 5xx or dropped connection (its own
   * retries, before any stage retry); text already given to onText will come again from the start.
   */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Usage INCREMENTS as soon as they are known: at `message_start` (input and cache tokens), at
   * the end (output tokens), and for every attempt that failed, dropped, stalled or was cancelled
   * after reporting usage (the provider's own retries included; the output of an attempt cut
   * short is estimated from what it streamed). The sum of all increments of a call is what the
   * API bills for it. Replay reports the recorded usage once.
   */
  onUsage?: (increment: Usage) => void;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  /** What went wrong with the attempt before. */
  error: ProviderError;
}

export type ProviderErrorKind =
  | 'auth' // 401/403: the key was rejected
  | 'not_found' // 404: unknown model
  | 'rate_limit' // 429 after the provider's own retries
  | 'overloaded' // 529 after retries
  | 'server' // 5xx after retries
  | 'network' // unreachable, connection dropped
  | 'timeout' // the request deadline (until the response starts) or the stream idle deadline passed, after retries
  | 'bad_request' // 400: our request was refused
  | 'aborted' // the signal fired
  | 'config' // before any call: no key in the environment, no cassette named, a base URL that is not a URL
  | 'cassette'; // replay: no recorded answer for this call, or it does not match; a cassette that cannot be read or written

export interface ProviderError {
  kind: ProviderErrorKind;
  /** A sentence for a person, naming the variable, model, stage or call where it helps. */
  message: string;
  status?: number;
  /** The wait the server asked for (`retry-after-ms` or `retry-after`), in milliseconds, when it did. */
  retryAfterMs?: number;
  /** Where in a file the problem is (a cassette that fails its schema), for the CLI's code frame. */
  diagnostic?: Diagnostic;
}

/** Which OpenAI API answered (`providers.openai.api`). */
export type OpenAIApi = 'responses' | 'chat';

/**
 * The answer as another vendor's API returned it, before it was mapped onto a Message: what a
 * cassette records for that provider, so a replay maps it again the same way.
 */
export interface VendorAnswer {
  provider: 'openai';
  api: OpenAIApi;
  response: Record<string, unknown>;
}

export type CallResult = { ok: true; message: ModelResponse; vendor?: VendorAnswer } | { ok: false; error: ProviderError };

export interface Provider {
  readonly name: 'anthropic' | 'openai' | 'replay';
  call(request: ModelRequest, options: CallOptions): Promise<CallResult>;
  /**
   * Checked before any stage starts (docs/models-and-budgets.md): key present, endpoint reachable, models
   * known (anthropic: each model asked for; openai: the endpoint's list, once); cassette present and valid, and recorded for these `stages` (replay).
   * Returns problems as sentences.
   */
  preflight(models: readonly string[], signal: AbortSignal, stages?: readonly string[]): Promise<ProviderError[]>;
  /**
   * The exact prompt token count of a request (input tokens, cache included) as the API counts
   * it (`POST /v1/messages/count_tokens` for anthropic), for reserving budget before a call;
   * undefined when the provider or the endpoint cannot tell (replay; a gateway without the route).
   * Never throws.
   */
  countTokens?(request: ModelRequest, signal: AbortSignal): Promise<number | undefined>;
}

/** Usage as the engine charges it, from a Messages API usage object (missing fields are 0). */
export function usageOf(message: Pick<ModelResponse, 'usage'>): Usage {
  const u = message.usage as Partial<Record<keyof Usage, number | null>>;
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
  };
}
