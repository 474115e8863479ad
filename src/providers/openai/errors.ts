import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import { durationAsWritten } from '../../base/duration.js';
import { causeOf } from '../anthropic/errors.js';
import { retryAfterMs, type Verdict } from '../retry.js';
import { StreamFault } from '../stream-limits.js';
import type { ProviderError, ProviderErrorKind } from '../types.js';
import { CutToolCall } from './parts.js';
import { StreamError } from './stream.js';

/** What a message about a failed call may name. */
export interface ErrorContext {
  model: string;
  keyEnv: string;
  baseURL: string;
  retries: number;
  signal: AbortSignal;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxRetryAfterMs: number;
}

type SdkErrorKind = Exclude<ProviderErrorKind, 'cassette' | 'config' | 'overloaded'> | 'unexpected';

/** Whether an error (or one of its causes) is a socket or fetch failure: a stream that broke after its headers. */
function brokenConnection(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 6; depth++) {
    if (typeof (e as { code?: unknown }).code === 'string' && !isApiError(e)) return true;
    if (e instanceof Error && /^(terminated|fetch failed|other side closed)$/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The kind of a failure, by the SDK's error classes and the HTTP status (the SDK's own retry rules: 408, 409, 429, 5xx, connection errors). */
function kindOf(error: unknown, signal: AbortSignal): SdkErrorKind {
  if (signal.aborted && !(error instanceof StreamFault)) return 'aborted';
  if (error instanceof StreamFault) return error.fault === 'idle' ? 'timeout' : error.fault === 'ended' ? 'network' : 'unexpected';
  if (error instanceof StreamError) return 'server';
  if (error instanceof APIUserAbortError) return 'aborted';
  if (error instanceof APIConnectionTimeoutError) return 'timeout';
  if (error instanceof APIConnectionError) return 'network';
  if (isApiError(error)) {
    const status = error.status;
    if (status === 401 || status === 402 || status === 403) return 'auth';
    if (status === 404) return 'not_found';
    if (status === 429) return 'rate_limit';
    if (status !== undefined && (status >= 500 || status === 408 || status === 409)) return 'server';
    if (status !== undefined && status >= 400) return 'bad_request';
    // An error object in the middle of a stream (no status): the server gave up.
    return 'server';
  }
  if (error instanceof OpenAIError && brokenConnection(error)) return 'network';
  return brokenConnection(error) ? 'network' : 'unexpected';
}

/** Whether another attempt may succeed, and after how long the server asked us to wait (`x-should-retry` first, as the SDK does). */
export function judgeOpenAIError(error: unknown, signal: AbortSignal): Verdict {
  const kind = kindOf(error, signal);
  if (kind === 'aborted') return { retry: false };
  const headers = isApiError(error) ? error.headers : undefined;
  const should = headers?.get('x-should-retry');
  if (should === 'false') return { retry: false };
  if (should === 'true') return { retry: true, afterMs: retryAfterMs(headers) };
  // 429 "insufficient_quota" is a billing state, not a rate: waiting does not help.
  if (isApiError(error) && error.code === 'insufficient_quota') return { retry: false };
  const retry = kind === 'network' || kind === 'timeout' || kind === 'rate_limit' || kind === 'server';
  return { retry, afterMs: retryAfterMs(headers) };
}

const after = (retries: number) => (retries === 0 ? '' : ` after ${retries} ${retries === 1 ? 'retry' : 'retries'}`);

function apiSays(error: unknown): string {
  if (error instanceof StreamError) return `: ${error.message}`;
  if (!isApiError(error)) return '';
  const body: unknown = error.error;
  const text = (body as { message?: unknown } | undefined)?.message;
  return typeof text === 'string' && text !== '' ? `: ${text}` : '';
}

/** A failed call as a ProviderError whose message names what to do. Never includes the key. */
export function toProviderError(error: unknown, ctx: ErrorContext): ProviderError {
  const mapped = describe(error, ctx);
  const wait = isApiError(error) ? retryAfterMs(error.headers) : undefined;
  return wait === undefined || mapped.kind === 'aborted' ? mapped : { ...mapped, retryAfterMs: wait };
}

function describe(error: unknown, ctx: ErrorContext): ProviderError {
  const kind = kindOf(error, ctx.signal);
  const status = isApiError(error) ? error.status : undefined;
  const as: ProviderErrorKind = kind === 'unexpected' ? 'server' : kind;
  const withStatus = (message: string): ProviderError => (status === undefined ? { kind: as, message } : { kind: as, message, status });
  const wait = isApiError(error) ? retryAfterMs(error.headers) : undefined;
  const asked = wait !== undefined && wait > 0 ? `: the API asked to wait ${durationAsWritten(wait)} before retrying${wait > ctx.maxRetryAfterMs ? ` (longer than the ${durationAsWritten(ctx.maxRetryAfterMs)} factory waits on its own)` : ''}` : '';
  switch (kind) {
    case 'aborted':
      return { kind, message: 'the model call was cancelled' };
    case 'auth':
      if (status === 403) return withStatus(`the API key in ${ctx.keyEnv} is not allowed to use ${ctx.model} (403)${apiSays(error)}`);
      if (status === 402) return withStatus(`the account of the API key in ${ctx.keyEnv} cannot be billed (402)${apiSays(error)}`);
      return withStatus(`the API key in ${ctx.keyEnv} was rejected by ${ctx.baseURL} (401): check the key, or run offline with --provider replay and a cassette`);
    case 'not_found':
      return withStatus(`${ctx.baseURL} answered 404 Not Found for ${ctx.model}${apiSays(error)} (check the model, the base URL, and providers.openai.api: responses or chat)`);
    case 'rate_limit':
      return withStatus(`rate limited by the OpenAI API at ${ctx.baseURL} (429)${after(ctx.retries)}${apiSays(error)}${asked}`);
    case 'server':
      return withStatus(`the OpenAI API at ${ctx.baseURL} failed${status === undefined ? '' : ` (${status})`}${after(ctx.retries)}${apiSays(error)}${asked}`);
    case 'timeout':
      if (error instanceof StreamFault) {
        return { kind, message: `the OpenAI API at ${ctx.baseURL} stopped sending its answer: no event for ${durationAsWritten(ctx.idleTimeoutMs)} after the response started (the stream idle timeout)${after(ctx.retries)}: raise providers.openai.stream_idle_timeout in factory.yaml if answers may pause that long` };
      }
      return { kind, message: `the OpenAI API at ${ctx.baseURL} did not start answering within ${durationAsWritten(ctx.requestTimeoutMs)} (the request timeout)${after(ctx.retries)}: raise providers.openai.request_timeout in factory.yaml if the API is that slow` };
    case 'bad_request':
      return withStatus(`the OpenAI API at ${ctx.baseURL} refused the request${status === undefined ? '' : ` (${status})`}${apiSays(error)}`);
    case 'network': {
      const how = error instanceof APIConnectionError ? 'cannot reach' : 'lost the connection to';
      return { kind, message: `${how} the OpenAI API at ${ctx.baseURL} (${error instanceof StreamFault ? error.message : causeOf(error)})${after(ctx.retries)}` };
    }
    case 'unexpected':
      if (error instanceof StreamFault || error instanceof CutToolCall) return { kind: 'server', message: `the OpenAI API at ${ctx.baseURL}: ${error.message}` };
      return { kind: 'server', message: `the model call failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `instanceof` alone types an APIError's status and headers as `any`; this keeps the SDK's types. */
function isApiError(error: unknown): error is APIError {
  return error instanceof APIError;
}
