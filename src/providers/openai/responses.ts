import type { Response, ResponseCreateParamsStreaming, ResponseInputItem, ToolChoiceFunction, ToolChoiceOptions } from 'openai/resources/responses/responses';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { ModelRequest } from '../types.js';
import { ANSWER_SCHEMA_NAME, answerSchema, choiceOf, effortOf, engineUsage, functionsOf, systemText, temperatureOf, toolResultText, type AnswerParts, type Choice } from './parts.js';

/**
 * An engine request (Messages API shapes) as a streamed Responses API request. `store: false`:
 * the engine sends the whole conversation every turn, so nothing needs keeping on the server.
 */
export function toResponsesRequest(request: ModelRequest): ResponseCreateParamsStreaming {
  const body: ResponseCreateParamsStreaming = {
    model: request.model,
    input: request.messages.flatMap(inputItems),
    max_output_tokens: request.max_tokens,
    store: false,
    stream: true,
  };
  const system = systemText(request.system);
  if (system !== undefined) body.instructions = system;
  const tools = functionsOf(request);
  if (tools.length > 0) body.tools = tools.map((t) => ({ type: 'function', name: t.name, parameters: t.parameters, strict: false, ...(t.description ? { description: t.description } : {}) }));
  const choice = choiceOf(request);
  if (choice) body.tool_choice = responsesChoice(choice);
  const schema = answerSchema(request);
  if (schema) body.text = { format: { type: 'json_schema', name: ANSWER_SCHEMA_NAME, schema, strict: false } };
  const effort = effortOf(request);
  if (effort) body.reasoning = { effort };
  const temperature = temperatureOf(request);
  if (temperature !== undefined) body.temperature = temperature;
  return body;
}

function responsesChoice(choice: Choice): ToolChoiceOptions | ToolChoiceFunction {
  switch (choice.kind) {
    case 'auto':
    case 'required':
    case 'none':
      return choice.kind;
    case 'function':
      return { type: 'function', name: choice.name };
  }
}

type Block = { type: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean };

/**
 * One engine message as input items, in order: text as a message, a tool call as a
 * `function_call`, a tool result as a `function_call_output`. Thinking blocks are left out.
 */
function inputItems(m: MessageParam): ResponseInputItem[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
  const out: ResponseInputItem[] = [];
  for (const b of m.content as Block[]) {
    if (b.type === 'text') {
      out.push(m.role === 'user' ? { role: 'user', content: [{ type: 'input_text', text: b.text ?? '' }] } : { role: 'assistant', content: b.text ?? '' });
    } else if (b.type === 'tool_use') {
      out.push({ type: 'function_call', call_id: b.id ?? '', name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) });
    } else if (b.type === 'tool_result') {
      out.push({ type: 'function_call_output', call_id: b.tool_use_id ?? '', output: toolResultText(b.content, b.is_error) });
    }
  }
  return out;
}

/** What a Response says, for the Message the engine reads (parts.ts). Reasoning items are left out. */
export function responseAnswer(response: Response): AnswerParts {
  const text: string[] = [];
  const refusal: string[] = [];
  const calls: AnswerParts['calls'] = [];
  // A hand-written cassette may leave `output` out.
  for (const item of (response.output as Response['output'] | undefined) ?? []) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') text.push(part.text);
        else refusal.push(part.refusal);
      }
    } else if (item.type === 'function_call') {
      calls.push({ id: item.call_id, name: item.name, arguments: item.arguments });
    }
  }
  const u = response.usage;
  const details = u?.input_tokens_details as { cached_tokens?: number; cache_write_tokens?: number } | undefined;
  return {
    id: response.id,
    model: response.model,
    text: text.join(''),
    calls,
    refusal: refusal.length > 0 ? refusal.join('') : response.incomplete_details?.reason === 'content_filter' ? '(the answer was stopped by the content filter)' : undefined,
    truncated: response.status === 'incomplete' && response.incomplete_details?.reason === 'max_output_tokens',
    usage: engineUsage(u?.input_tokens ?? 0, details?.cached_tokens ?? 0, details?.cache_write_tokens ?? 0, u?.output_tokens ?? 0),
  };
}
