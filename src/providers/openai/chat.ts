import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { ModelRequest } from '../types.js';
import { ANSWER_SCHEMA_NAME, answerSchema, choiceOf, effortOf, engineUsage, functionsOf, systemText, temperatureOf, toolResultText, type AnswerParts, type Choice } from './parts.js';

/** An engine request (Messages API shapes) as a streamed Chat Completions request. */
export function toChatRequest(request: ModelRequest): ChatCompletionCreateParamsStreaming {
  const messages: ChatCompletionMessageParam[] = [];
  const system = systemText(request.system);
  if (system !== undefined) messages.push({ role: 'system', content: system });
  for (const m of request.messages) messages.push(...chatMessages(m));
  const body: ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages,
    max_completion_tokens: request.max_tokens,
    stream: true,
    // Usage comes in a last chunk only when asked for.
    stream_options: { include_usage: true },
  };
  const tools = functionsOf(request);
  if (tools.length > 0) {
    body.tools = tools.map((t) => ({ type: 'function', function: { name: t.name, parameters: t.parameters, ...(t.description ? { description: t.description } : {}) } }));
  }
  const choice = choiceOf(request);
  if (choice) body.tool_choice = chatChoice(choice);
  const schema = answerSchema(request);
  if (schema) body.response_format = { type: 'json_schema', json_schema: { name: ANSWER_SCHEMA_NAME, schema, strict: false } };
  const effort = effortOf(request);
  if (effort) body.reasoning_effort = effort;
  const temperature = temperatureOf(request);
  if (temperature !== undefined) body.temperature = temperature;
  return body;
}

function chatChoice(choice: Choice): ChatCompletionToolChoiceOption {
  switch (choice.kind) {
    case 'auto':
    case 'required':
    case 'none':
      return choice.kind;
    case 'function':
      return { type: 'function', function: { name: choice.name } };
  }
}

type Block = { type: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean };

/**
 * One engine message as chat messages: an assistant turn's text and tool calls in one message;
 * a user turn's tool results as `tool` messages first (they must follow the calls), then its
 * text blocks joined into one.
 * Thinking blocks have no chat form and are left out.
 */
function chatMessages(m: MessageParam): ChatCompletionMessageParam[] {
  if (typeof m.content === 'string') return [m.role === 'user' ? { role: 'user', content: m.content } : { role: 'assistant', content: m.content }];
  const blocks = m.content as Block[];
  const text = blocks.filter((b) => b.type === 'text').map((b) => b.text ?? '');
  if (m.role === 'assistant') {
    const calls = blocks.filter((b) => b.type === 'tool_use');
    return [{
      role: 'assistant',
      content: text.length > 0 ? text.join('') : null,
      ...(calls.length > 0 ? { tool_calls: calls.map((c) => ({ id: c.id ?? '', type: 'function' as const, function: { name: c.name ?? '', arguments: JSON.stringify(c.input ?? {}) } })) } : {}),
    }];
  }
  const out: ChatCompletionMessageParam[] = blocks
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({ role: 'tool', tool_call_id: b.tool_use_id ?? '', content: toolResultText(b.content, b.is_error) }));
  // One string rather than parts: servers that speak Chat Completions all take that.
  if (text.length > 0) out.push({ role: 'user', content: text.join('\n\n') });
  return out;
}

/** What a ChatCompletion says, for the Message the engine reads (parts.ts). */
export function chatAnswer(completion: ChatCompletion): AnswerParts {
  const choice = completion.choices[0];
  const message = choice?.message;
  const u = completion.usage;
  return {
    id: completion.id,
    model: completion.model,
    text: message?.content ?? '',
    calls: (message?.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [])),
    refusal: message?.refusal ?? undefined,
    truncated: choice?.finish_reason === 'length',
    usage: engineUsage(u?.prompt_tokens ?? 0, u?.prompt_tokens_details?.cached_tokens ?? 0, u?.prompt_tokens_details?.cache_write_tokens ?? 0, u?.completion_tokens ?? 0),
  };
}

/**
 * Streamed chunks gathered into the ChatCompletion the API would have returned without
 * streaming: text and refusal joined, each tool call's id, name and arguments by its index,
 * the finish reason, and the usage of the last chunk.
 */
export class ChatAccumulator {
  #id = '';
  #model = '';
  #created = 0;
  #text: string[] = [];
  #refusal: string[] = [];
  #finish: ChatCompletion.Choice['finish_reason'] | null = null;
  #usage: ChatCompletion['usage'];
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();

  /** Adds a chunk; returns the UTF-8 bytes of content it carried and its text, for the caller's cap and live progress. */
  add(chunk: ChatCompletionChunk): { bytes: number; text: string } {
    this.#id ||= chunk.id;
    this.#model ||= chunk.model;
    this.#created ||= chunk.created;
    if (chunk.usage) this.#usage = chunk.usage;
    let bytes = 0;
    let text = '';
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const d = choice.delta;
      if (d.content) {
        this.#text.push(d.content);
        text += d.content;
      }
      if (d.refusal) this.#refusal.push(d.refusal);
      for (const t of d.tool_calls ?? []) {
        const call = this.#calls.get(t.index) ?? { id: '', name: '', arguments: '' };
        if (t.id) call.id = t.id;
        if (t.function?.name) call.name += t.function.name;
        if (t.function?.arguments) {
          call.arguments += t.function.arguments;
          bytes += Buffer.byteLength(t.function.arguments, 'utf8');
        }
        this.#calls.set(t.index, call);
      }
      if (choice.finish_reason) this.#finish = choice.finish_reason;
      bytes += Buffer.byteLength(text, 'utf8') + Buffer.byteLength(d.refusal ?? '', 'utf8');
    }
    return { bytes, text };
  }

  get usage(): ChatCompletion['usage'] {
    return this.#usage;
  }

  completion(): ChatCompletion {
    const calls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
    const text = this.#text.join('');
    const refusal = this.#refusal.join('');
    return {
      id: this.#id,
      object: 'chat.completion',
      created: this.#created,
      model: this.#model,
      choices: [{
        index: 0,
        message: { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, refusal: refusal === '' ? null : refusal, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
        finish_reason: this.#finish ?? 'stop',
        logprobs: null,
      }],
      ...(this.#usage ? { usage: this.#usage } : {}),
    };
  }
}
