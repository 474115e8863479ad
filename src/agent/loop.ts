import type { ContentBlock, MessageParam, ToolResultBlockParam, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import type { CallKey, ModelRequest, ModelResponse, Provider, ProviderError } from '../providers/types.js';
import type { ToolSet } from './tools/index.js';

export const DEFAULT_MAX_TURNS = 40;
export const DEFAULT_MAX_TOOL_ERRORS = 10;

/** The budget's answer before a model call: go ahead (with `max_tokens` capped to what is left) or refuse. */
export type BudgetDecision = { ok: true; max_tokens: number } | { ok: false; reason: string };

export type AgentEvent =
  | { type: 'model_request'; turn: number; request: ModelRequest }
  | { type: 'model_response'; turn: number; message: ModelResponse }
  | { type: 'tool_call'; turn: number; id: string; name: string; input: unknown }
  | { type: 'tool_result'; turn: number; id: string; name: string; ok: boolean; text: string };

export interface AgentOptions {
  provider: Provider;
  /** Model, system, max_tokens, temperature and the opening `messages` (the prompt). Its `tools` are kept, the ToolSet's added. */
  request: ModelRequest;
  tools: ToolSet;
  /** Model calls allowed (default 40). */
  maxTurns?: number;
  /** Tool errors tolerated; one more ends the agent with reason `tool_errors` (default 10). */
  maxToolErrors?: number;
  signal: AbortSignal;
  /** The cassette key of the n-th model call (1-based) of this agent. */
  key: (call: number) => CallKey;
  onText?: (chunk: string) => void;
  /** For transcripts and progress. */
  onEvent?: (event: AgentEvent) => void;
  /** The budget hook, before every call. */
  beforeCall?: (request: ModelRequest) => BudgetDecision | Promise<BudgetDecision>;
  /** After every successful call, to charge its usage. */
  afterCall?: (message: ModelResponse) => void | Promise<void>;
}

export type AgentStopReason = 'max_turns' | 'tool_errors' | 'provider' | 'budget' | 'cancelled';

export interface AgentResult {
  status: 'succeeded' | 'error';
  reason?: AgentStopReason;
  message?: string;
  /** With reason `provider` (or `cancelled` from the provider). */
  providerError?: ProviderError;
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
 * too many tool errors, a provider error, the budget or an abort.
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

  const end = (status: AgentResult['status'], reason?: AgentStopReason, message?: string, providerError?: ProviderError): AgentResult => ({
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    ...(providerError ? { providerError } : {}),
    summary,
    turns,
    toolErrors,
    filesChanged: tools.filesChanged(),
    transcript: messages,
  });

  for (;;) {
    if (signal.aborted) return end('error', 'cancelled', 'the agent was cancelled');
    if (turns >= maxTurns) return end('error', 'max_turns', `the agent was still working after ${maxTurns} turns (max_turns)`);

    let request: ModelRequest = { ...options.request, messages: [...messages], ...(toolDefinitions.length > 0 ? { tools: toolDefinitions } : {}) };
    if (options.beforeCall) {
      const decision = await options.beforeCall(request);
      if (!decision.ok) return end('error', 'budget', decision.reason);
      if (decision.max_tokens < 1) return end('error', 'budget', 'the budget left cannot pay for another model call');
      if (decision.max_tokens < request.max_tokens) request = { ...request, max_tokens: decision.max_tokens };
    }
    options.onEvent?.({ type: 'model_request', turn: turns + 1, request });
    const answer = await options.provider.call(request, {
      key: options.key(turns + 1),
      signal,
      ...(options.onText ? { onText: options.onText } : {}),
    });
    if (!answer.ok) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal can abort during the await; TypeScript keeps its narrowing from before
      if (answer.error.kind === 'aborted' || signal.aborted) return end('error', 'cancelled', answer.error.message, answer.error);
      return end('error', 'provider', answer.error.message, answer.error);
    }
    const message = answer.message;
    turns++;
    await options.afterCall?.(message);
    options.onEvent?.({ type: 'model_response', turn: turns, message });
    messages.push({ role: 'assistant', content: message.content as MessageParam['content'] });
    const text = textOf(message.content);
    if (text !== '') summary = text;

    const uses = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
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
        stop = end('error', 'cancelled', 'the agent was cancelled');
        results.push({ type: 'tool_result', tool_use_id: use.id, content: 'not run: cancelled', is_error: true });
        continue;
      }
      options.onEvent?.({ type: 'tool_call', turn: turns, id: use.id, name: use.name, input: use.input });
      const result = await tools.run(use.name, use.input);
      options.onEvent?.({ type: 'tool_result', turn: turns, id: use.id, name: use.name, ok: result.ok, text: result.text });
      results.push({ type: 'tool_result', tool_use_id: use.id, content: result.text, ...(result.ok ? {} : { is_error: true }) });
      if (!result.ok && ++toolErrors > maxToolErrors) {
        stop = end('error', 'tool_errors', `the agent's tool calls failed ${toolErrors} times, more than max_tool_errors (${maxToolErrors}); the last: ${use.name}: ${result.text}`);
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
