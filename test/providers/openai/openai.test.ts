// The OpenAI provider through the real `openai` SDK against the fake OpenAI API, on both APIs
// (Responses and Chat Completions): what each request looks like, the Message each answer
// becomes, usage with cached tokens, cut-off answers, retries, dropped and stalled streams, and
// the preflight (missing key, unknown model, unreachable endpoint, rejected key).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { OpenAIProvider, openaiSettings, type OpenAISettings } from '../../../src/providers/openai/openai.js';
import { pricingTable } from '../../../src/config/pricing.js';
import type { CallKey, ModelRequest, RetryInfo } from '../../../src/providers/types.js';
import type { Usage } from '../../../src/base/usage.js';
import { callsOf, rateLimited, routeOf, startFakeOpenAI, textMessage, toolUseMessage, truncatedToolUse, type FakeOpenAI } from '../../support/fake-openai.js';

const KEY = 'sk-proj-TESTKEY0123456789abcdefghij';
const FAST = { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 60_000 };
const key: CallKey = { stage: 'plan', iteration: 0, call: 1 };
const request = (extra: Partial<ModelRequest> = {}): ModelRequest => ({
  model: 'gpt-5.4',
  max_tokens: 256,
  system: 'You plan.',
  messages: [{ role: 'user', content: [{ type: 'text', text: '<file path="a.md">\nA\n</file>' }, { type: 'text', text: 'Write a plan.' }] }],
  ...extra,
});

let api: FakeOpenAI;
beforeEach(async () => {
  api = await startFakeOpenAI();
});
afterEach(async () => {
  await api.close();
});

const sum = (us: Usage[]): Usage =>
  us.reduce((a, u) => ({
    input_tokens: a.input_tokens + u.input_tokens,
    output_tokens: a.output_tokens + u.output_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + u.cache_creation_input_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + u.cache_read_input_tokens,
  }), { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });

async function call(p: OpenAIProvider, req = request(), signal = new AbortController().signal) {
  const increments: Usage[] = [];
  const retries: RetryInfo[] = [];
  let text = '';
  const result = await p.call(req, { key, signal, onUsage: (u) => increments.push(u), onRetry: (i) => retries.push(i), onText: (t) => (text += t) });
  return { result, increments, retries, text };
}

describe.each(['responses', 'chat'] as const)('the %s API', (which) => {
  const provider = (settings: Partial<OpenAISettings> = {}) => new OpenAIProvider({ apiKey: KEY, baseURL: api.url, api: which, retry: FAST, ...settings });
  const path = which === 'chat' ? '/v1/chat/completions' : '/v1/responses';

  test('a text answer: streamed, mapped onto a Message, usage with cached tokens apart', async () => {
    api.script([{ reply: textMessage('The plan.', { input_tokens: 100, cache_read_input_tokens: 400, output_tokens: 7 }, 'gpt-5.4') }]);
    const { result, increments, text } = await call(provider());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.message.content).toEqual([{ type: 'text', text: 'The plan.', citations: null }]);
    expect(result.message.stop_reason).toBe('end_turn');
    expect(sum(increments)).toEqual({ input_tokens: 100, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 400 });
    expect(text).toBe('The plan.');
    expect(result.vendor?.api).toBe(which);
    const [sent] = callsOf(api.requests);
    expect(routeOf(sent!)).toBe(path);
    expect(sent!.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = sent!.body;
    expect(body.stream).toBe(true);
    if (which === 'chat') {
      expect(body.messages[0]).toEqual({ role: 'system', content: 'You plan.' });
      expect(body.messages[1]).toEqual({ role: 'user', content: '<file path="a.md">\nA\n</file>\n\nWrite a plan.' });
      expect(body.max_completion_tokens).toBe(256);
      expect(body.stream_options).toEqual({ include_usage: true });
    } else {
      expect(body.instructions).toBe('You plan.');
      expect(body.input[1]).toEqual({ role: 'user', content: [{ type: 'input_text', text: 'Write a plan.' }] });
      expect(body.max_output_tokens).toBe(256);
      expect(body.store).toBe(false);
    }
  });

  test('tools: calls come back as tool_use, results go out as the API words them', async () => {
    api.script([{ reply: toolUseMessage([{ id: 'call_1', name: 'read_file', input: { path: 'a.md' } }], { input_tokens: 50, output_tokens: 9 }, { text: 'Reading.' }) }]);
    const schema = { type: 'object' as const, properties: { path: { type: 'string' } }, required: ['path'] };
    const req = request({
      tools: [{ name: 'read_file', description: 'Reads a file.', input_schema: schema }],
      messages: [
        { role: 'user', content: 'Go.' },
        { role: 'assistant', content: [{ type: 'text', text: 'Listing.' }, { type: 'tool_use', id: 'call_0', name: 'list_files', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_0', content: 'nope', is_error: true }] },
      ],
    });
    const { result } = await call(provider(), req);
    expect(result.ok && result.message.stop_reason).toBe('tool_use');
    expect(result.ok && result.message.content).toEqual([
      { type: 'text', text: 'Reading.', citations: null },
      { type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'a.md' }, caller: { type: 'direct' } },
    ]);
    const body = callsOf(api.requests)[0]!.body;
    if (which === 'chat') {
      expect(body.tools[0]).toEqual({ type: 'function', function: { name: 'read_file', description: 'Reads a file.', parameters: schema } });
      expect(body.messages.slice(2)).toEqual([
        { role: 'assistant', content: 'Listing.', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'list_files', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: 'Error: nope' },
      ]);
    } else {
      expect(body.tools[0]).toMatchObject({ type: 'function', name: 'read_file', strict: false });
      expect(body.input.slice(1)).toEqual([
        { role: 'assistant', content: 'Listing.' },
        { type: 'function_call', call_id: 'call_0', name: 'list_files', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_0', output: 'Error: nope' },
      ]);
    }
  });

  test('a forced tool, a structured answer and reasoning effort are asked for in the API\'s words', async () => {
    api.script([{ reply: textMessage('{"route":"fix"}') }]);
    const req = request({
      tools: [{ name: 'submit_review', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'submit_review' },
      output_config: { effort: 'high', format: { type: 'json_schema', schema: { type: 'object', properties: { route: { type: 'string' } } } } },
    });
    (req as unknown as { temperature: number }).temperature = 0.2;
    expect((await call(provider(), req)).result.ok).toBe(true);
    const body = callsOf(api.requests)[0]!.body;
    expect(body.temperature).toBe(0.2);
    if (which === 'chat') {
      expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'submit_review' } });
      expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { route: { type: 'string' } } }, strict: false } });
      expect(body.reasoning_effort).toBe('high');
    } else {
      expect(body.tool_choice).toEqual({ type: 'function', name: 'submit_review' });
      expect(body.text.format).toMatchObject({ type: 'json_schema', name: 'answer', strict: false });
      expect(body.reasoning).toEqual({ effort: 'high' });
    }
  });

  test('an answer cut off at the output limit is stop_reason max_tokens, its tool call too', async () => {
    api.script([{ reply: truncatedToolUse({ name: 'write_file', input: { path: 'a', content: 'x'.repeat(40) } }) }]);
    const { result } = await call(provider());
    expect(result.ok && result.message.stop_reason).toBe('max_tokens');
  });

  test('429 and 500 are retried as the SDK would, after retry-after; the answer then comes', async () => {
    api.script([{ reply: rateLimited(0), times: 1 }, { reply: { status: 500 }, times: 1 }, { reply: textMessage('ok') }]);
    const { result, retries } = await call(provider());
    expect(result.ok).toBe(true);
    expect(retries.map((r) => r.error.kind)).toEqual(['rate_limit', 'server']);
    expect(callsOf(api.requests)).toHaveLength(3);
  });

  test('a 429 after the retries is a rate_limit error naming the endpoint', async () => {
    api.script([{ reply: rateLimited(0) }]);
    const { result } = await call(provider());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.kind).toBe('rate_limit');
    expect(result.error.message).toContain(`rate limited by the OpenAI API at ${api.url} (429) after 2 retries`);
  });

  test('a dropped stream is retried, and the broken attempt charged (prompt estimate, streamed output)', async () => {
    api.script([{ reply: { drop: true }, times: 1 }, { reply: textMessage('whole', { input_tokens: 20, output_tokens: 3 }) }]);
    const { result, retries, increments } = await call(provider());
    expect(result.ok).toBe(true);
    expect(retries[0]!.error.kind).toBe('network');
    expect(increments.length).toBeGreaterThan(1);
    expect(sum(increments).input_tokens).toBeGreaterThan(20);
  });

  test('an error in the middle of the stream is retried, then named', async () => {
    api.script([{ reply: { streamError: { code: 'server_error', message: 'boom' } } }]);
    const { result, retries } = await call(provider());
    expect(retries).toHaveLength(2);
    expect(!result.ok && result.error.message).toContain('boom');
  });

  test('a stream that stalls after its headers ends at the idle deadline', async () => {
    api.script([{ reply: { stall: true } }]);
    const { result } = await call(provider({ idleTimeoutMs: 30, retry: { ...FAST, maxRetries: 0 } }));
    expect(!result.ok && result.error.kind).toBe('timeout');
    expect(!result.ok && result.error.message).toContain('providers.openai.stream_idle_timeout');
  });

  test('a 400 is not retried and says what the API said', async () => {
    api.script([{ reply: { status: 400, body: { error: { message: 'bad schema', type: 'invalid_request_error', param: null, code: null } } } }]);
    const { result, retries } = await call(provider());
    expect(retries).toHaveLength(0);
    expect(!result.ok && result.error).toMatchObject({ kind: 'bad_request', status: 400 });
    expect(!result.ok && result.error.message).toContain('bad schema');
  });
});

describe('settings and preflight', () => {
  test('the API: responses on OpenAI\'s endpoint, chat elsewhere, unless api says', () => {
    const pricing = pricingTable();
    expect(openaiSettings(undefined, pricing, {}).api).toBe('responses');
    expect(openaiSettings({ openai: { base_url: 'http://localhost:11434/v1' } }, pricing, {}).api).toBe('chat');
    expect(openaiSettings(undefined, pricing, { OPENAI_BASE_URL: 'http://gw/v1' })).toMatchObject({ api: 'chat', baseURLFrom: 'OPENAI_BASE_URL' });
    expect(openaiSettings({ openai: { base_url: 'http://gw/v1', api: 'responses', api_key_env: 'GW_KEY', request_timeout: '5s' } }, pricing, { GW_KEY: 'k' })).toMatchObject({ api: 'responses', apiKey: 'k', keyEnv: 'GW_KEY', requestTimeoutMs: 5000 });
  });

  test('preflight lists the models once, and names an unknown one with the nearest listed', async () => {
    const p = new OpenAIProvider({ apiKey: KEY, baseURL: api.url, retry: FAST });
    expect(await p.preflight(['gpt-5.4', 'gpt-5.4-mini'], new AbortController().signal)).toEqual([]);
    const problems = await p.preflight(['gpt-5.4', 'gpt-5.4-mimi'], new AbortController().signal);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: 'not_found' });
    expect(problems[0]!.message).toContain('unknown model gpt-5.4-mimi');
    expect(problems[0]!.message).toContain('did you mean "gpt-5.4-mini"');
    expect(api.requests.filter((r) => routeOf(r) === '/v1/models')).toHaveLength(2);
  });

  test('a missing key, a rejected key and an unreachable endpoint are one clear problem each', async () => {
    const none = await new OpenAIProvider({ apiKey: undefined }).preflight(['gpt-5.4'], new AbortController().signal);
    expect(none[0]).toMatchObject({ kind: 'config' });
    expect(none[0]!.message).toContain('OPENAI_API_KEY is not set');

    const strict = await startFakeOpenAI({ apiKey: 'right' });
    const rejected = await new OpenAIProvider({ apiKey: KEY, baseURL: strict.url, retry: FAST }).preflight(['gpt-5.4'], new AbortController().signal);
    await strict.close();
    expect(rejected[0]).toMatchObject({ kind: 'auth', status: 401 });
    expect(rejected[0]!.message).not.toContain(KEY);

    const gone = await startFakeOpenAI();
    const url = gone.url;
    await gone.close();
    const unreachable = await new OpenAIProvider({ apiKey: KEY, baseURL: url, retry: { ...FAST, maxRetries: 0 } }).preflight(['gpt-5.4'], new AbortController().signal);
    expect(unreachable[0]).toMatchObject({ kind: 'network' });
    expect(unreachable[0]!.message).toContain(`cannot reach the OpenAI API at ${url}`);
  });
});
