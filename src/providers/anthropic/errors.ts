import { AnthropicError, APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { durationAsWritten } from '../../base/duration.js';
import { StreamFault } from './stream.js';
import { retryAfterMs, type Verdict } from '../retry.js';
import type { ProviderError, ProviderErrorKind } from '../types.js';

/** What a message about a failed call may name. */
export interface ErrorContext {
  model: string;
  /** The variable the key came from, e.g. ANTHROPIC_API_KEY. */
  keyEnv: string;
  baseURL: string;
  retries: number;
  /** " (did you mean "x"?)" for an unknown model, or ''. */
  suggestion: string;
  signal: AbortSignal;
  /** The deadlines in force, named with their setting when one passes (0: none). */
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** The longest `retry-after` the provider waits on its own. */
  maxRetryAfterMs: number;
}

/** The kinds an error of the SDK can be: cassette and config errors come from elsewhere. */
type SdkErrorKind = Exclude<ProviderErrorKind, 'cassette' | 'config'>;

/** Error types of the API's error body (also sent as SSE `error` events in the middle of a stream). */
const KIND_OF_TYPE: Record<string, SdkErrorKind> = {
  authentication_error: 'auth',
  permission_error: 'auth',
  billing_error: 'auth',
  not_found_error: 'not_found',
  rate_limit_error: 'rate_limit',
  overloaded_error: 'overloaded',
  api_error: 'server',
  timeout_error: 'server',
  invalid_request_error: 'bad_request',
  request_too_large: 'bad_request',
};

/** `unexpected`: anything else thrown (a bug, a malformed stream); reported as a server error, not retried. */
function kindOf(error: unknown, signal: AbortSignal): SdkErrorKind | 'unexpected' {
  if (signal.aborted || error instanceof APIUserAbortError) return 'aborted';
  if (error instanceof StreamFault) return error.fault === 'idle' ? 'timeout' : 'unexpected';
  // The SDK's timeout covers the request until the response starts.
  if (error instanceof APIConnectionTimeoutError) return 'timeout';
  if (error instanceof APIConnectionError) return 'network';
  if (isApiError(error)) {
    const status = error.status;
    if (status === 401 || status === 402 || status === 403) return 'auth';
    if (status === 404) return 'not_found';
    if (status === 429) return 'rate_limit';
    if (status === 529) return 'overloaded';
    if (status !== undefined && (status >= 500 || status === 408 || status === 409)) return 'server';
    if (status !== undefined && status >= 400) return 'bad_request';
    const type = error.type ?? undefined;
    return (type && KIND_OF_TYPE[type]) ?? 'server';
  }
  // A stream that broke after its headers: the SDK wraps the fetch error in an AnthropicError.
  return brokenConnection(error) ? 'network' : 'unexpected';
}

/** Whether an error (or one of its causes) is a socket or fetch failure. */
function brokenConnection(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof (e as { code?: unknown }).code === 'string') return true;
    if (e instanceof Error && /^(terminated|fetch failed|other side closed)$/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether another attempt may succeed, and after how long the server asked us to wait. */
export function judgeAnthropicError(error: unknown, signal: AbortSignal): Verdict {
  const kind = kindOf(error, signal);
  if (kind === 'aborted') return { retry: false };
  if (isApiError(error) && error.headers) {
    const should = error.headers.get('x-should-retry');
    if (should === 'false') return { retry: false };
    if (should === 'true') return { retry: true, afterMs: retryAfterMs(error.headers) };
  }
  const retry = kind === 'network' || kind === 'timeout' || kind === 'rate_limit' || kind === 'overloaded' || kind === 'server';
  return { retry, afterMs: isApiError(error) ? retryAfterMs(error.headers) : undefined };
}

/** The innermost cause's code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET…) or message. */
export function causeOf(error: unknown): string {
  let e: unknown = error;
  let last = '';
  for (let depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (e instanceof Error && e.message) last = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return last || 'connection failed';
}

function after(retries: number): string {
  return retries === 0 ? '' : ` after ${retries} ${retries === 1 ? 'retry' : 'retries'}`;
}

/** The API's own sentence from an error body, when it gave one. */
function apiSays(error: unknown): string {
  if (!(isApiError(error))) return '';
  const text = error.apiMessage ?? '';
  return text ? `: ${text}` : '';
}

/** What the server asked for in `retry-after`, as a clause; '' when it asked nothing. */
function askedToWait(waitMs: number | undefined, ctx: ErrorContext): string {
  if (waitMs === undefined || waitMs <= 0) return '';
  const longer = waitMs > ctx.maxRetryAfterMs ? ` (longer than the ${durationAsWritten(ctx.maxRetryAfterMs)} factory waits on its own)` : '';
  return `: the API asked to wait ${durationAsWritten(waitMs)} before retrying${longer}`;
}

/** A failed call as a ProviderError whose message names what to do. Never includes the key. */
export function toProviderError(error: unknown, ctx: ErrorContext): ProviderError {
  const mapped = describe(error, ctx);
  const wait = isApiError(error) ? retryAfterMs(error.headers) : undefined;
  if (wait === undefined || mapped.kind === 'aborted') return mapped;
  return { ...mapped, retryAfterMs: wait };
}

function describe(error: unknown, ctx: ErrorContext): ProviderError {
  const kind = kindOf(error, ctx.signal);
  const status = isApiError(error) ? error.status : undefined;
  const as: ProviderErrorKind = kind === 'unexpected' ? 'server' : kind;
  const withStatus = (message: string): ProviderError => (status === undefined ? { kind: as, message } : { kind: as, message, status });
  const wait = askedToWait(isApiError(error) ? retryAfterMs(error.headers) : undefined, ctx);
  switch (kind) {
    case 'aborted':
      return { kind, message: 'the model call was cancelled' };
    case 'auth':
      if (status === 403) return withStatus(`the API key in ${ctx.keyEnv} is not allowed to use ${ctx.model} (403)${apiSays(error)}`);
      if (status === 402) return withStatus(`the account of the API key in ${ctx.keyEnv} cannot be billed (402)${apiSays(error)}`);
      return withStatus(`the API key in ${ctx.keyEnv} was rejected (401): check the key, or run offline with --provider replay and a cassette`);
    case 'not_found':
      // The API says not_found_error; any other 404 comes from something else at the base URL.
      if (isApiError(error) && error.type !== 'not_found_error') {
        return { kind: 'config', status: 404, message: `${ctx.baseURL} answered 404 Not Found: is it the Anthropic API? (check the base URL)` };
      }
      return withStatus(`unknown model ${ctx.model}${ctx.suggestion}`);
    case 'rate_limit':
      return withStatus(`rate limited by the Anthropic API (429)${after(ctx.retries)}${apiSays(error)}${wait}`);
    case 'overloaded':
      return withStatus(`the Anthropic API is overloaded (529)${after(ctx.retries)}${apiSays(error)}${wait}`);
    case 'server':
      return withStatus(`the Anthropic API failed${status === undefined ? '' : ` (${status})`}${after(ctx.retries)}${apiSays(error)}${wait}`);
    case 'timeout':
      if (error instanceof StreamFault) {
        return {
          kind,
          message: `the Anthropic API at ${ctx.baseURL} stopped sending its answer: no content for ${durationAsWritten(ctx.idleTimeoutMs)} after the response started (the stream idle timeout; pings do not count)${after(ctx.retries)}: raise providers.anthropic.stream_idle_timeout in factory.yaml if answers may pause that long`,
        };
      }
      return {
        kind,
        message: `the Anthropic API at ${ctx.baseURL} did not start answering within ${durationAsWritten(ctx.requestTimeoutMs)} (the request timeout)${after(ctx.retries)}: raise providers.anthropic.request_timeout in factory.yaml if the API is that slow`,
      };
    case 'bad_request':
      return withStatus(`the Anthropic API refused the request${status === undefined ? '' : ` (${status})`}${apiSays(error)}`);
    case 'unexpected':
      if (error instanceof StreamFault) return { kind: 'server', message: error.message };
      return { kind: 'server', message: `the model call failed: ${error instanceof Error ? error.message : String(error)}` };
    case 'network': {
      const how = error instanceof APIConnectionError || !(error instanceof AnthropicError) ? 'cannot reach' : 'lost the connection to';
      return { kind: 'network', message: `${how} the Anthropic API at ${ctx.baseURL} (${causeOf(error)})${after(ctx.retries)}` };
    }
  }
}

/** `instanceof` alone types an APIError's status and headers as `any`; this keeps the SDK's types. */
function isApiError(error: unknown): error is APIError {
  return error instanceof APIError;
}
