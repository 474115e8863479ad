import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import type { Response, ResponseCreateParamsStreaming, ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { Usage } from '../../base/usage.js';
import { contentCapBytes, NO_DEADLINE_MS, StreamFault } from '../stream-limits.js';
import { estimateOutputTokens, UsageMeter } from '../usage-meter.js';
import { ChatAccumulator, chatAnswer } from './chat.js';
import { engineUsage } from './parts.js';
import { responseAnswer } from './responses.js';

export interface AttemptOptions {
  signal: AbortSignal;
  /** Until the response starts (the SDK's timeout, which covers the fetch up to the headers); 0: none. */
  requestTimeoutMs: number;
  /** Longest time without an event once the response started; 0: none. */
  idleTimeoutMs: number;
  /**
   * The prompt's tokens, never below the real count: charged for an attempt that broke after
   * the response started, as OpenAI reports usage only at the end of a stream. Computed only then.
   */
  promptEstimate: () => number;
  onText?: ((chunk: string) => void) | undefined;
  onUsage?: ((increment: Usage) => void) | undefined;
}

/** An `error` event, or a `response.failed`, in the middle of a stream: the server gave up. */
export class StreamError extends Error {
  constructor(
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

/**
 * The deadlines and accounting of one streamed attempt, whichever API: its own abort (the
 * caller's signal, or the idle deadline), the content cap, and the usage of an attempt that
 * broke once the response had started (the prompt estimate and the output it streamed).
 */
class Attempt {
  readonly controller = new AbortController();
  readonly meter: UsageMeter;
  fault: StreamFault | undefined;
  #idle: NodeJS.Timeout | undefined;
  #bytes = 0;
  #started = false;
  readonly #cap: number;
  readonly #unlink: () => void;

  constructor(
    readonly options: AttemptOptions,
    readonly maxTokens: number,
  ) {
    this.meter = new UsageMeter(options.onUsage);
    this.#cap = contentCapBytes(maxTokens);
    const abort = () => this.controller.abort();
    if (options.signal.aborted) abort();
    options.signal.addEventListener('abort', abort, { once: true });
    this.#unlink = () => options.signal.removeEventListener('abort', abort);
  }

  get requestOptions() {
    return { signal: this.controller.signal, timeout: this.options.requestTimeoutMs > 0 ? this.options.requestTimeoutMs : NO_DEADLINE_MS };
  }

  /** The response started (its headers came) or sent another event: the idle deadline starts again. */
  beat(): void {
    this.#started = true;
    if (this.options.idleTimeoutMs <= 0 || this.fault) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.fail(new StreamFault('idle', 'the stream went idle')), this.options.idleTimeoutMs);
  }

  /** Content arrived: counted against the cap, its text given to live progress. */
  content(bytes: number, text: string): void {
    this.#bytes += bytes;
    if (text !== '') this.options.onText?.(text);
    if (this.#bytes > this.#cap) this.fail(new StreamFault('oversize', `the OpenAI API streamed more than max_tokens ${this.maxTokens} allows (over ${this.#cap} bytes of content), so the answer was stopped`));
  }

  fail(fault: StreamFault): void {
    if (this.fault) return;
    this.fault = fault;
    this.controller.abort();
  }

  /** Paid for but not answered: the prompt, and the output streamed so far. */
  broke(error: unknown): unknown {
    // A stream that reported its usage before failing (`response.failed`) is charged that.
    if (this.#started && !this.meter.started) {
      const output = Math.max(this.meter.reported.output_tokens, estimateOutputTokens(this.#bytes, this.maxTokens));
      this.meter.report({ ...this.meter.reported, input_tokens: Math.max(this.meter.reported.input_tokens, this.options.promptEstimate()), output_tokens: output });
    }
    return this.fault ?? error;
  }

  end(): void {
    clearTimeout(this.#idle);
    this.#unlink();
  }
}

/** One streamed Chat Completions request; resolves with the ChatCompletion it adds up to. */
export async function streamChat(sdk: OpenAI, body: ChatCompletionCreateParamsStreaming, options: AttemptOptions): Promise<ChatCompletion> {
  const attempt = new Attempt(options, body.max_completion_tokens ?? 0);
  try {
    const stream = await sdk.chat.completions.create(body, attempt.requestOptions);
    attempt.beat();
    const acc = new ChatAccumulator();
    let finished = false;
    for await (const chunk of stream) {
      attempt.beat();
      const got = acc.add(chunk);
      if (chunk.choices.some((c) => c.finish_reason)) finished = true;
      attempt.content(got.bytes, got.text);
      if (attempt.fault) throw attempt.fault;
    }
    if (attempt.fault) throw attempt.fault;
    if (!finished) throw new StreamFault('ended', 'the stream ended before the answer did (no finish_reason)');
    const completion = acc.completion();
    attempt.meter.report(chatAnswer(completion).usage);
    return completion;
  } catch (error) {
    throw attempt.broke(error);
  } finally {
    attempt.end();
  }
}

/** One streamed Responses API request; resolves with the Response of its last event. */
export async function streamResponses(sdk: OpenAI, body: ResponseCreateParamsStreaming, options: AttemptOptions): Promise<Response> {
  const attempt = new Attempt(options, body.max_output_tokens ?? 0);
  try {
    const stream = await sdk.responses.create(body, attempt.requestOptions);
    attempt.beat();
    let last: Response | undefined;
    for await (const event of stream) {
      attempt.beat();
      last = handleEvent(event, attempt) ?? last;
      if (attempt.fault) throw attempt.fault;
    }
    if (attempt.fault) throw attempt.fault;
    if (!last) throw new StreamFault('ended', 'the stream ended before the answer did (no response.completed)');
    attempt.meter.report(responseAnswer(last).usage);
    return last;
  } catch (error) {
    throw attempt.broke(error);
  } finally {
    attempt.end();
  }
}

/**
 * The response an event ends the stream with, if it does; throws what a failed stream says.
 * The Responses API streams some fifty kinds of events: only these matter here.
 */
function handleEvent(event: ResponseStreamEvent, attempt: Attempt): Response | undefined {
  const type = event.type;
  if (type === 'response.output_text.delta') attempt.content(Buffer.byteLength(event.delta, 'utf8'), event.delta);
  else if (type === 'response.function_call_arguments.delta' || type === 'response.refusal.delta' || type === 'response.reasoning_text.delta' || type === 'response.reasoning_summary_text.delta') {
    attempt.content(Buffer.byteLength(event.delta, 'utf8'), '');
  } else if (type === 'response.completed' || type === 'response.incomplete') return event.response;
  else if (type === 'response.failed') {
    const u = event.response.usage;
    if (u) attempt.meter.report(engineUsage(u.input_tokens, u.input_tokens_details.cached_tokens, 0, u.output_tokens));
    throw new StreamError(event.response.error?.code ?? null, event.response.error?.message ?? 'the response failed');
  } else if (type === 'error') throw new StreamError(event.code ?? null, event.message);
  return undefined;
}
