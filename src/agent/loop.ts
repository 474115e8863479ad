import type { ContentBlock, MessageParam, ToolResultBlockParam, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import type { ModelRequest, ModelResponse } from '../providers/types.js';
import type { ModelCallReason, Reason } from '../records/reasons.js';
import type { ToolSet } from './tools/index.js';

export const DEFAULT_MAX_TURNS = 40;
export const DEFAULT_MAX_TOOL_ERRORS = 10;
const CANCELLED = { kind: 'cancelled' } as const;

/**
 * Where the agent's model calls go: the engine's model services for the stage, which number,
 * budget (capping max_tokens to what is left, or refusing), charge and record every call. A
 * failure is a typed reason — a budget refusal is `budget`, never a provider error.
 */
export interface AgentModel {
  call(request: ModelRequest, options: { onText?: (chunk: string) => void }): Promise<{ ok: true; message: ModelResponse } | { ok: false; reason: ModelCallReason; message: string }>;
}

export type AgentEvent =
  | { type: 'model_request'; turn: number; request: ModelRequest }
  | { type: 'model_response'; turn: number; message: ModelResponse }
  | { type: 'tool_call'; turn: number; id: string; name: string; input: unknown }
  | { type: 'tool_result'; turn: number; id: string; name: string; ok: boolean; text: string; ms: number };

export interface AgentOptions {
  model: AgentModel;
  /** Model, system, max_tokens, temperature and the opening `messages` (the prompt). Its `tools` are kept, the ToolSet's added. */
  request: ModelRequest;
  tools: ToolSet;
  /** Model calls allowed (default 40). */
  maxTurns?: number;
  /** Tool errors tolerated; one more ends the agent with reason `tool_errors` (default 10). */
  maxToolErrors?: number;
  signal: AbortSignal;
  onText?: (chunk: string) => void;
  /** For transcripts and progress. */
  onEvent?: (event: AgentEvent) => void;
}

/** Why the agent stopped without finishing: its own limits, or a model call that failed. */
export type AgentStopReason = Extract<Reason, { kind: 'max_turns' | 'tool_errors' }> | ModelCallReason;

export interface AgentResult {
  status: 'succeeded' | 'error';
  reason?: AgentStopReason;
  message?: string;
  /** The agent's final text (the last assistant text when it did not finish). */
  summary: string;
  /** Model calls answered. */
  turns: number;
  toolErrors: number;
  filesChanged: string[];
  /** The whole conversation: the opening messages, then each assistant message and the user message with its tool results. */
  transcript: MessageParam[];
}

/**
 * The tool-use loop of a generate stage: call the model; while it asks for tools, run them in
 * order and send back their results; stop when it ends its turn without tools, or on max_turns,
 * too many tool errors, a failed model call (the provider, the budget) or an abort.
 */
export async function runAgent(options: AgentOptions): Promise<AgentResult> {
  const maxTurns = options.maxTurns ?? DEFAULT_MAX_TURNS;
  const maxToolErrors = options.maxToolErrors ?? DEFAULT_MAX_TOOL_ERRORS;
  const { tools, signal } = options;
  const messages: MessageParam[] = [...options.request.messages];
  const toolDefinitions = [...(options.request.tools ?? []), ...tools.definitions];
  let turns = 0;
  let toolErrors = 0;
  let summary = '';

  const end = (status: AgentResult['status'], reason?: AgentStopReason, message?: string): AgentResult => ({
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    summary,
    turns,
    toolErrors,
    filesChanged: tools.filesChanged(),
    transcript: messages,
  });

  for (;;) {
    if (signal.aborted) return end('error', CANCELLED, 'the agent was cancelled');
    if (turns >= maxTurns) return end('error', { kind: 'max_turns', turns: maxTurns }, `the agent was still working after ${maxTurns} turns (max_turns)`);

    const request: ModelRequest = { ...options.request, messages: [...messages], ...(toolDefinitions.length > 0 ? { tools: toolDefinitions } : {}) };
    options.onEvent?.({ type: 'model_request', turn: turns + 1, request });
    const answer = await options.model.call(request, options.onText ? { onText: options.onText } : {});
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal can abort during the await; TypeScript keeps its narrowing from before
    if (!answer.ok) return end('error', signal.aborted ? CANCELLED : answer.reason, answer.message);
    const message = answer.message;
    turns++;
    options.onEvent?.({ type: 'model_response', turn: turns, message });
    messages.push({ role: 'assistant', content: message.content as MessageParam['content'] });
    const text = textOf(message.content);
    if (text !== '') summary = text;

    const uses = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
    // A long turn of the provider's own tools (web search) paused: sending it back resumes it.
    if (uses.length === 0 && message.stop_reason === 'pause_turn') continue;
    if (uses.length === 0) return end('succeeded');

    const results: ToolResultBlockParam[] = [];
    let stop: AgentResult | undefined;
    for (const use of uses) {
      if (stop) {
        results.push({ type: 'tool_result', tool_use_id: use.id, content: 'not run: the agent was stopped', is_error: true });
        continue;
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a tool run above can outlast an abort; TypeScript keeps its narrowing from before
      if (signal.aborted) {
        stop = end('error', CANCELLED, 'the agent was cancelled');
        results.push({ type: 'tool_result', tool_use_id: use.id, content: 'not run: cancelled', is_error: true });
        continue;
      }
      options.onEvent?.({ type: 'tool_call', turn: turns, id: use.id, name: use.name, input: use.input });
      const started = performance.now();
      const result = await tools.run(use.name, use.input);
      const ms = Math.round((performance.now() - started) * 100) / 100;
      options.onEvent?.({ type: 'tool_result', turn: turns, id: use.id, name: use.name, ok: result.ok, text: result.text, ms });
      results.push({ type: 'tool_result', tool_use_id: use.id, content: result.text, ...(result.ok ? {} : { is_error: true }) });
      if (!result.ok && ++toolErrors > maxToolErrors) {
        stop = end('error', { kind: 'tool_errors', count: toolErrors, limit: maxToolErrors }, `the agent's tool calls failed ${toolErrors} times, more than max_tool_errors (${maxToolErrors}); the last: ${use.name}: ${result.text}`);
      }
    }
    messages.push({ role: 'user', content: results });
    if (stop) return { ...stop, filesChanged: tools.filesChanged(), transcript: messages };
  }
}

function textOf(content: readonly ContentBlock[]): string {
  return content
    .filter((b) => b.type === 'text')
    .map((b) => (b as { text: string }).text)
    .join('')
    .trim();
}
