import type { ContentBlock, StopReason } from '@anthropic-ai/sdk/resources/messages';
import type { Usage } from '../../base/usage.js';
import type { ModelRequest, ModelResponse } from '../types.js';

/**
 * The pieces of an engine request (Messages API shapes) that both OpenAI APIs take, read once in
 * neutral terms, and the Message an OpenAI answer becomes. The two API mappings (chat.ts,
 * responses.ts) differ only in where they put these.
 */

/** A function the model may call. */
export interface FunctionDef {
  name: string;
  description: string | undefined;
  parameters: Record<string, unknown>;
}

/** `tool_choice` in neutral terms: Anthropic's `any` is OpenAI's `required`. */
export type Choice = { kind: 'auto' } | { kind: 'required' } | { kind: 'none' } | { kind: 'function'; name: string };

/** The system prompt as one text (a list of text blocks joined by blank lines). */
export function systemText(system: ModelRequest['system']): string | undefined {
  if (system === undefined) return undefined;
  const text = typeof system === 'string' ? system : system.map((b) => b.text).join('\n\n');
  return text === '' ? undefined : text;
}

/**
 * The functions of a request. Only client tools (a name and an `input_schema`) have an OpenAI
 * form; the stage refuses Anthropic's server tools (web search) for this provider before a call.
 */
export function functionsOf(request: ModelRequest): FunctionDef[] {
  const out: FunctionDef[] = [];
  for (const tool of request.tools ?? []) {
    const t = tool as { name: string; description?: string; input_schema?: Record<string, unknown> };
    if (t.input_schema === undefined) continue;
    out.push({ name: t.name, description: t.description, parameters: t.input_schema });
  }
  return out;
}

export function choiceOf(request: ModelRequest): Choice | undefined {
  const c = request.tool_choice;
  if (c === undefined) return undefined;
  switch (c.type) {
    case 'auto':
      return { kind: 'auto' };
    case 'any':
      return { kind: 'required' };
    case 'none':
      return { kind: 'none' };
    case 'tool':
      return { kind: 'function', name: c.name };
  }
}

/** The JSON Schema of a structured answer (`output_config.format`), if one is asked for. */
export function answerSchema(request: ModelRequest): Record<string, unknown> | undefined {
  const format = request.output_config?.format as { type?: string; schema?: Record<string, unknown> } | null | undefined;
  return format?.type === 'json_schema' ? format.schema : undefined;
}

/** The name the structured answer's schema goes by (OpenAI requires one). */
export const ANSWER_SCHEMA_NAME = 'answer';

/** `effort:` as OpenAI's reasoning effort, which has the same five words. */
export function effortOf(request: ModelRequest): 'low' | 'medium' | 'high' | 'xhigh' | 'max' | undefined {
  return request.output_config?.effort ?? undefined;
}

export function temperatureOf(request: ModelRequest): number | undefined {
  const t = (request as unknown as { temperature?: unknown }).temperature;
  return typeof t === 'number' ? t : undefined;
}

/** A tool result's text: its text blocks joined; an error result says so, as OpenAI has no error flag. */
export function toolResultText(content: unknown, isError: boolean | undefined): string {
  const text =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : `[${b.type ?? 'content'} omitted]`)).join('\n')
        : '';
  return isError ? `Error: ${text}` : text;
}

/** A tool call's arguments as the input object; undefined when they are not a JSON object. */
export function parseArguments(json: string): Record<string, unknown> | undefined {
  if (json.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * OpenAI's usage as the engine's: its prompt count includes the tokens read from and written to
 * the cache, which the engine keeps apart (each has its own price; a write costs plain input in
 * the built-in table, as OpenAI bills no premium for it).
 */
export function engineUsage(prompt: number, cached: number, written: number, output: number): Usage {
  const read = Math.min(cached, prompt);
  const write = Math.min(written, prompt - read);
  return { input_tokens: prompt - read - write, output_tokens: output, cache_creation_input_tokens: write, cache_read_input_tokens: read };
}

export interface AnswerParts {
  id: string;
  model: string;
  text: string;
  /** Each call with its raw arguments. */
  calls: { id: string; name: string; arguments: string }[];
  refusal: string | undefined;
  /** The answer was cut off at the output limit. */
  truncated: boolean;
  usage: Usage;
}

/** An answer whose tool call arguments are not whole JSON although it was not cut off. */
export class CutToolCall extends Error {
  constructor(readonly tools: string[]) {
    super(`the tool call ${tools.join(', ')} ended before its arguments were complete JSON, although the answer was not cut off`);
    this.name = 'CutToolCall';
  }
}

/**
 * The Message the engine reads: text, then tool calls; `max_tokens` when the answer was cut
 * off (never taken as complete), `tool_use` when it calls tools, `refusal` when the model
 * refused. Throws CutToolCall for arguments cut short without the answer saying so.
 */
export function toMessage(parts: AnswerParts): ModelResponse {
  const content: ContentBlock[] = [];
  const text = parts.refusal ? `${parts.text}${parts.text ? '\n' : ''}${parts.refusal}` : parts.text;
  if (text !== '') content.push({ type: 'text', text, citations: null });
  const cut: string[] = [];
  for (const call of parts.calls) {
    const input = parseArguments(call.arguments);
    if (input === undefined) cut.push(call.name);
    content.push({ type: 'tool_use', id: call.id, name: call.name, input: input ?? {}, caller: { type: 'direct' } });
  }
  if (cut.length > 0 && !parts.truncated) throw new CutToolCall(cut);
  const stop: StopReason = parts.truncated ? 'max_tokens' : parts.refusal ? 'refusal' : parts.calls.length > 0 ? 'tool_use' : 'end_turn';
  return {
    id: parts.id,
    type: 'message',
    role: 'assistant',
    model: parts.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: {
      ...parts.usage,
      cache_creation: null,
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: null,
      speed: null,
    },
  };
}
