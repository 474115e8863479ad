import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ContentBlock, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, type AgentEvent, type AgentModel, type AgentOptions } from '../../src/agent/loop.js';
import type { ModelRequest, ModelResponse } from '../../src/providers/types.js';
import { makeSandbox, put, tools } from './helpers.js';

type Answer = Awaited<ReturnType<AgentModel['call']>>;
type CallOptions = Parameters<AgentModel['call']>[1];

/**
 * A test double for the model the agent talks to (the engine's model services, which budget and
 * number the calls: test/cli/models covers them over HTTP): answers from a script, recording what it was sent.
 */
class ScriptedModel implements AgentModel {
  readonly requests: ModelRequest[] = [];
  constructor(private readonly script: ((request: ModelRequest, options: CallOptions) => Answer | Promise<Answer>)[]) {}

  async call(request: ModelRequest, options: CallOptions): Promise<Answer> {
    this.requests.push(structuredClone(request));
    const step = this.script[Math.min(this.requests.length - 1, this.script.length - 1)];
    if (!step) throw new Error('empty script');
    return step(request, options);
  }
}

let id = 0;
function reply(content: Partial<ContentBlock>[], stop: ModelResponse['stop_reason'] = 'end_turn'): () => Answer {
  return () => ({
    ok: true,
    message: {
      id: `msg_${++id}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: content as ContentBlock[],
      stop_reason: stop,
      stop_sequence: null,
      container: null,
      usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    } as unknown as ModelResponse,
  });
}
const text = (t: string) => ({ type: 'text' as const, text: t, citations: null });
const use = (name: string, input: unknown, useId = `toolu_${++id}`) => ({ type: 'tool_use' as const, id: useId, name, input, caller: { type: 'direct' as const } });
const toolTurn = (...uses: ReturnType<typeof use>[]) => reply(uses, 'tool_use');

let root: string;
let ws: string;

beforeEach(() => {
  ({ root, ws } = makeSandbox('loop'));
  put(ws, { 'src/a.ts': 'export const a = 1;\n', 'scenarios/holdout.yaml': 'name: h\n' });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const base: ModelRequest = { model: 'claude-test', max_tokens: 4096, system: 'You are careful.', messages: [{ role: 'user', content: 'Implement b.ts' }] };

function options(model: AgentModel, extra: Partial<AgentOptions> = {}): AgentOptions {
  return {
    model,
    request: base,
    tools: tools(ws),
    signal: new AbortController().signal,
    ...extra,
  };
}

function resultsOf(request: ModelRequest | undefined): ToolResultBlockParam[] {
  const last = request?.messages.at(-1);
  expect(last?.role).toBe('user');
  return last!.content as ToolResultBlockParam[];
}

describe('runAgent', () => {
  it('runs tools in order and sends their results back until the model ends its turn', async () => {
    const provider = new ScriptedModel([
      toolTurn(use('read_file', { path: 'src/a.ts' }, 'u1'), use('write_file', { path: 'src/b.ts', content: 'export const b = 2;\n' }, 'u2')),
      toolTurn(use('edit_file', { path: 'src/b.ts', old: '2', new: '3' }, 'u3')),
      reply([text('Done: added src/b.ts.')]),
    ]);
    const events: AgentEvent[] = [];
    const result = await runAgent(options(provider, { onEvent: (e) => events.push(e) }));

    expect(result).toMatchObject({ status: 'succeeded', summary: 'Done: added src/b.ts.', turns: 3, toolErrors: 0, filesChanged: ['src/b.ts'] });
    expect(result.reason).toBeUndefined();
    expect(readFileSync(path.join(ws, 'src/b.ts'), 'utf8')).toBe('export const b = 3;\n');
    expect(provider.requests).toHaveLength(3);

    const first = provider.requests[0]!;
    expect(first.system).toBe('You are careful.');
    expect(first.tools?.map((t) => (t as { name: string }).name)).toEqual(['read_file', 'write_file', 'edit_file', 'list_files', 'search', 'run_command']);
    expect(first.messages).toEqual(base.messages);

    const second = provider.requests[1]!;
    expect(second.messages).toHaveLength(3);
    expect(second.messages[1]!.role).toBe('assistant');
    expect(resultsOf(second)).toEqual([
      { type: 'tool_result', tool_use_id: 'u1', content: 'export const a = 1;\n' },
      { type: 'tool_result', tool_use_id: 'u2', content: 'created src/b.ts (20 bytes)' },
    ]);
    expect(result.transcript).toHaveLength(6);
    expect(events.map((e) => e.type)).toEqual([
      'model_request', 'model_response', 'tool_call', 'tool_result', 'tool_call', 'tool_result',
      'model_request', 'model_response', 'tool_call', 'tool_result',
      'model_request', 'model_response',
    ]);
  });

  it('returns refusals and failures as is_error results, counted', async () => {
    const provider = new ScriptedModel([
      toolTurn(
        use('read_file', { path: '../elsewhere/secret.txt' }, 'e1'),
        use('read_file', { path: 'scenarios/holdout.yaml' }, 'e2'),
        use('delete_everything', {}, 'e3'),
        use('write_file', { path: 'x.ts' }, 'e4'),
        use('list_files', {}, 'ok1'),
      ),
      reply([text('gave up')]),
    ]);
    const result = await runAgent(options(provider));
    expect(result).toMatchObject({ status: 'succeeded', toolErrors: 4, summary: 'gave up' });
    const results = resultsOf(provider.requests[1]);
    expect(results.map((r) => [r.tool_use_id, r.is_error ?? false])).toEqual([['e1', true], ['e2', true], ['e3', true], ['e4', true], ['ok1', false]]);
    expect(results[0]!.content).toContain('leads outside the workspace');
    expect(results[1]!.content).toContain('off-limits');
    expect(results[2]!.content).toContain('unknown tool "delete_everything"');
    expect(results[3]!.content).toContain('"content" is missing');
    expect(results[4]!.content).toBe('src/a.ts');
    expect(readFileSync(path.join(root, 'elsewhere/secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('ends with max_turns after that many model calls', async () => {
    const provider = new ScriptedModel([toolTurn(use('list_files', {}))]);
    const result = await runAgent(options(provider, { maxTurns: 3 }));
    expect(result).toMatchObject({ status: 'error', reason: { kind: 'max_turns', turns: 3 }, turns: 3 });
    expect(result.message).toContain('3 turns');
    expect(provider.requests).toHaveLength(3);
  });

  it('ends with tool_errors when the errors exceed max_tool_errors, skipping the rest of the turn', async () => {
    const provider = new ScriptedModel([
      toolTurn(use('read_file', { path: '/etc/passwd' })),
      toolTurn(use('read_file', { path: '.env' }), use('read_file', { path: '.git/config' }), use('write_file', { path: 'late.ts', content: 'x' })),
    ]);
    const result = await runAgent(options(provider, { maxToolErrors: 2 }));
    expect(result).toMatchObject({ status: 'error', reason: { kind: 'tool_errors', count: 3, limit: 2 }, toolErrors: 3, turns: 2 });
    expect(result.message).toMatch(/failed 3 times, more than max_tool_errors \(2\)/);
    expect(existsSync(path.join(ws, 'late.ts'))).toBe(false);
    const last = result.transcript.at(-1)!.content as ToolResultBlockParam[];
    expect(last.at(-1)).toMatchObject({ is_error: true, content: 'not run: the agent was stopped' });
  });

  it('reports a provider error', async () => {
    const provider = new ScriptedModel([() => ({ ok: false, reason: { kind: 'provider', cause: 'overloaded', status: 529 }, message: 'the API is overloaded (529) after 2 retries' })]);
    const result = await runAgent(options(provider));
    expect(result).toMatchObject({ status: 'error', reason: { kind: 'provider', cause: 'overloaded', status: 529 }, message: 'the API is overloaded (529) after 2 retries', turns: 0 });
  });

  it("ends with the model call's typed reason: a budget refusal is `budget`, with its figures", async () => {
    const refused = { kind: 'budget', budget: 'tokens', scope: 'run', spent: 10_000, limit: 10_000 } as const;
    const provider = new ScriptedModel([toolTurn(use('list_files', {})), () => ({ ok: false, reason: refused, message: 'the tokens budget of the run is exhausted' })]);
    const result = await runAgent(options(provider));
    expect(result).toMatchObject({ status: 'error', reason: refused, message: 'the tokens budget of the run is exhausted', turns: 1 });
    expect(provider.requests).toHaveLength(2);
  });

  it('stops on abort: a call in flight is cancelled', async () => {
    const controller = new AbortController();
    const provider = new ScriptedModel([
      toolTurn(use('list_files', {})),
      () =>
        new Promise<Answer>((resolve) => {
          controller.signal.addEventListener('abort', () => resolve({ ok: false, reason: { kind: 'cancelled' }, message: 'the model call was cancelled' }), { once: true });
          setTimeout(() => controller.abort(), 20);
        }),
    ]);
    const result = await runAgent(options(provider, { signal: controller.signal }));
    expect(result).toMatchObject({ status: 'error', reason: { kind: 'cancelled' }, turns: 1 });
  });

  it('does not call the model once aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const provider = new ScriptedModel([reply([text('x')])]);
    const result = await runAgent(options(provider, { signal: controller.signal }));
    expect(result).toMatchObject({ status: 'error', reason: { kind: 'cancelled' }, turns: 0 });
    expect(provider.requests).toHaveLength(0);
  });

  it('keeps the last text as the summary when the agent does not finish', async () => {
    const provider = new ScriptedModel([reply([text('Looking around.'), use('list_files', {})], 'tool_use'), toolTurn(use('list_files', {}))]);
    const result = await runAgent(options(provider, { maxTurns: 2 }));
    expect(result).toMatchObject({ reason: { kind: 'max_turns', turns: 2 }, summary: 'Looking around.' });
  });

  it('streams text through onText', async () => {
    const chunks: string[] = [];
    const provider = new ScriptedModel([
      (_req, o) => {
        o.onText?.('hel');
        o.onText?.('lo');
        return reply([text('hello')])();
      },
    ]);
    await runAgent(options(provider, { onText: (c) => chunks.push(c) }));
    expect(chunks.join('')).toBe('hello');
  });
});
