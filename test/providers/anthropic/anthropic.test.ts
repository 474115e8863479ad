import Anthropic from '@anthropic-ai/sdk';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { AnthropicProvider, anthropicSettings, type AnthropicSettings } from '../../../src/providers/anthropic/anthropic.js';
import { pricingTable } from '../../../src/config/pricing.js';
import type { CallKey, ModelRequest, RetryInfo } from '../../../src/providers/types.js';
import { apiKeyOf, startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';

const KEY = 'sk-ant-api03-test-secret-key-value';
const FAST = { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 60_000 };
const key: CallKey = { stage: 'plan', iteration: 0, call: 1 };
const request = (text = 'Write a plan.', extra: Partial<ModelRequest> = {}): ModelRequest => ({
  model: 'claude-sonnet-5-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: text }],
  ...extra,
});

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

function provider(settings: Partial<AnthropicSettings> = {}): AnthropicProvider {
  return new AnthropicProvider({ apiKey: KEY, baseURL: api.url, retry: FAST, ...settings });
}
const call = (p: AnthropicProvider, req = request(), extra: { onText?: (t: string) => void; onRetry?: (i: RetryInfo) => void; signal?: AbortSignal } = {}) =>
  p.call(req, { key, signal: extra.signal ?? new AbortController().signal, ...(extra.onText ? { onText: extra.onText } : {}), ...(extra.onRetry ? { onRetry: extra.onRetry } : {}) });

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('calls through the real SDK', () => {
  test('a text reply, with usage including cache tokens, and the key sent only in a header', async () => {
    api.script([{ reply: textMessage('The plan.', { input_tokens: 120, output_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 400 }) }]);
    const r = await call(provider());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.content).toEqual([expect.objectContaining({ type: 'text', text: 'The plan.' })]);
    expect(r.message.usage).toMatchObject({ input_tokens: 120, output_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 400 });
    expect(r.message.stop_reason).toBe('end_turn');
    expect(api.requests).toHaveLength(1);
    const sent = api.requests[0]!;
    expect(sent.path).toBe('/v1/messages');
    expect(apiKeyOf(sent)).toBe(KEY);
    expect(sent.body).toMatchObject({ model: 'claude-sonnet-5-5', max_tokens: 256, stream: true });
    expect(JSON.stringify(sent.body)).not.toContain(KEY);
  });

  test('streamed text arrives through onText in pieces', async () => {
    const text = 'Step one: parse. Step two: convert. Step three: test.';
    api.script([{ reply: { ...textMessage(text), chunkSize: 8 } }]);
    const pieces: string[] = [];
    const r = await call(provider(), request(), { onText: (t) => pieces.push(t) });
    expect(r.ok).toBe(true);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(text);
  });

  test('tool use round trip: tool_use blocks come back with parsed input, the tool_result goes out', async () => {
    api.script([
      { match: { contains: 'tool_result' }, reply: textMessage('Done: the file says hello.') },
      { match: { tool: 'read_file' }, reply: toolUseMessage([{ name: 'read_file', input: { path: 'src/a.ts', nested: { n: [1, 2] } }, id: 'toolu_1' }], {}, { text: 'Reading.' }) },
    ]);
    const tools = [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object' as const, properties: { path: { type: 'string' } } } }];
    const p = provider();
    const first = await call(p, request('Read src/a.ts', { tools }));
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.message.stop_reason).toBe('tool_use');
    const use = first.message.content.find((b) => b.type === 'tool_use');
    expect(use).toEqual({ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/a.ts', nested: { n: [1, 2] } } });

    const second = await call(p, {
      ...request('Read src/a.ts', { tools }),
      messages: [
        { role: 'user', content: 'Read src/a.ts' },
        { role: 'assistant', content: first.message.content as never },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'hello' }] },
      ],
    });
    expect(second.ok && second.message.content[0]).toMatchObject({ type: 'text', text: 'Done: the file says hello.' });
    expect(api.requests[1]!.body.messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_1' });
  });

  test('a 429 with retry-after is retried after the wait the API asked for, then succeeds', async () => {
    api.script([
      { reply: { status: 429, headers: { 'retry-after': '0' } }, times: 2 },
      { reply: textMessage('ok') },
    ]);
    const retries: RetryInfo[] = [];
    // A backoff of a minute: only an honoured retry-after lets this finish in time.
    const r = await call(provider({ retry: { ...FAST, initialDelayMs: 60_000 } }), request(), { onRetry: (i) => retries.push(i) });
    expect(r.ok).toBe(true);
    expect(api.requests).toHaveLength(3);
    expect(retries.map((i) => [i.retry, i.delayMs, i.error.kind])).toEqual([[1, 0, 'rate_limit'], [2, 0, 'rate_limit']]);
  });

  test('a retry-after longer than the provider will wait ends the call at once', async () => {
    api.script([{ reply: { status: 429, headers: { 'retry-after': '3600' } } }]);
    const r = await call(provider());
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('rate_limit');
    expect(api.requests).toHaveLength(1);
  });

  test('529 overloaded, then success', async () => {
    api.script([{ reply: { status: 529 }, times: 1 }, { reply: textMessage('fine now') }]);
    const r = await call(provider());
    expect(r.ok && r.message.content[0]).toMatchObject({ text: 'fine now' });
    expect(api.requests).toHaveLength(2);
  });

  test('529 on every attempt ends as overloaded', async () => {
    api.script([{ reply: { status: 529 } }]);
    const r = await call(provider());
    expect(r).toMatchObject({ ok: false, error: { kind: 'overloaded', status: 529 } });
    expect(!r.ok && r.error.message).toMatch(/overloaded \(529\) after 2 retries/);
  });

  test('500 on every attempt: retries exhausted, kind server', async () => {
    api.script([{ reply: { status: 500 } }]);
    const r = await call(provider());
    expect(r).toMatchObject({ ok: false, error: { kind: 'server', status: 500 } });
    expect(api.requests).toHaveLength(1 + FAST.maxRetries);
  });

  test('a dropped stream is retried from the start', async () => {
    api.script([{ reply: { drop: true }, times: 1 }, { reply: textMessage('whole answer') }]);
    const pieces: string[] = [];
    const retries: RetryInfo[] = [];
    const r = await call(provider(), request(), { onText: (t) => pieces.push(t), onRetry: (i) => retries.push(i) });
    expect(r.ok && r.message.content[0]).toMatchObject({ text: 'whole answer' });
    expect(api.requests).toHaveLength(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error.kind).toBe('network');
    expect(pieces.join('')).toBe('partial whole answer');
  });

  test('a connection dropped on every attempt ends as network, naming the endpoint', async () => {
    api.script([{ reply: { drop: true } }]);
    const r = await call(provider());
    expect(r).toMatchObject({ ok: false, error: { kind: 'network' } });
    expect(!r.ok && r.error.message).toContain(api.url);
    expect(api.requests).toHaveLength(3);
  });

  test('an overloaded_error event in the middle of a stream is retried', async () => {
    api.script([{ reply: { streamError: { type: 'overloaded_error', message: 'Overloaded' } }, times: 1 }, { reply: textMessage('recovered') }]);
    const r = await call(provider());
    expect(r.ok && r.message.content[0]).toMatchObject({ text: 'recovered' });
    expect(api.requests).toHaveLength(2);
  });

  test('401: the message names the variable the key came from and never the key', async () => {
    await api.close();
    api = await startFakeAnthropic({ apiKey: 'sk-ant-the-right-one' });
    const p = new AnthropicProvider(anthropicSettings(undefined, pricingTable(), { MY_TEAM_KEY: KEY, ANTHROPIC_BASE_URL: api.url }));
    const p2 = new AnthropicProvider({ ...anthropicSettings({ anthropic: { api_key_env: 'MY_TEAM_KEY' } }, pricingTable(), { MY_TEAM_KEY: KEY, ANTHROPIC_BASE_URL: api.url }), retry: FAST });
    expect((await call(p)).ok).toBe(false); // ANTHROPIC_API_KEY is not set: refused before any request
    expect(api.requests).toHaveLength(0);
    const r = await call(p2);
    expect(r).toMatchObject({ ok: false, error: { kind: 'auth', status: 401 } });
    if (r.ok) return;
    expect(r.error.message).toContain('MY_TEAM_KEY');
    expect(r.error.message).toContain('rejected');
    expect(r.error.message).not.toContain(KEY);
    expect(api.requests).toHaveLength(1); // 401 is not retried
  });

  test('404 for the model during a call: unknown model with a suggestion', async () => {
    api.script([{ reply: { status: 404, body: { type: 'error', error: { type: 'not_found_error', message: 'model: claude-sonet-5-5' } } } }]);
    const r = await call(provider(), request('hi', { model: 'claude-sonet-5-5' }));
    expect(r).toMatchObject({ ok: false, error: { kind: 'not_found', message: 'unknown model claude-sonet-5-5 (did you mean "claude-sonnet-5-5"?)' } });
  });

  test('400: the API refused the request, with its own explanation, not retried', async () => {
    api.script([{ reply: { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: must be at least 1' } } } }]);
    const r = await call(provider());
    expect(r).toMatchObject({ ok: false, error: { kind: 'bad_request', status: 400 } });
    expect(!r.ok && r.error.message).toContain('max_tokens: must be at least 1');
    expect(api.requests).toHaveLength(1);
  });

  test('an abort in the middle of a stream returns kind aborted', async () => {
    api.script([{ reply: { ...textMessage('x'.repeat(2000)), chunkSize: 10, chunkDelayMs: 50 } }]);
    const controller = new AbortController();
    const pieces: string[] = [];
    const r = await call(provider(), request(), {
      signal: controller.signal,
      onText: (t) => {
        pieces.push(t);
        if (pieces.length === 2) controller.abort();
      },
    });
    expect(r).toMatchObject({ ok: false, error: { kind: 'aborted' } });
    expect(api.requests).toHaveLength(1);
  });

  test('an already aborted signal makes no request', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await call(provider(), request(), { signal: controller.signal });
    expect(r).toMatchObject({ ok: false, error: { kind: 'aborted' } });
    expect(api.requests).toHaveLength(0);
  });

  test('the stable prefix is marked for prompt caching', async () => {
    api.script([{ reply: textMessage('ok') }]);
    await call(provider(), {
      model: 'claude-sonnet-5-5',
      max_tokens: 64,
      system: 'You are a careful engineer.',
      messages: [{ role: 'user', content: [{ type: 'text', text: '<file path="SPEC.md">…</file>' }, { type: 'text', text: 'Write a plan.' }] }],
    });
    const body = api.requests[0]!.body;
    expect(body.system).toEqual([{ type: 'text', text: 'You are a careful engineer.', cache_control: { type: 'ephemeral' } }]);
    expect(body.messages[0].content[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(body.messages[0].content[1].cache_control).toBeUndefined();
  });

  test('the fake answers loudly when no rule matches', async () => {
    api.script([{ match: { model: 'claude-opus-5-5' }, reply: textMessage('opus') }]);
    const r = await call(provider());
    expect(r).toMatchObject({ ok: false, error: { kind: 'server', status: 500 } });
    expect(!r.ok && r.error.message).toContain('no rule matched');
    expect(api.requests).toHaveLength(1);
  });
});

describe('preflight', () => {
  const signal = () => new AbortController().signal;

  test('known models pass, each asked once', async () => {
    const problems = await provider().preflight(['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-sonnet-5-5'], signal());
    expect(problems).toEqual([]);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models/claude-sonnet-5-5', 'GET /v1/models/claude-opus-5-5']);
  });

  test('an unknown model is named with the nearest priced model', async () => {
    const problems = await provider().preflight(['claude-sonet-5-5', 'claude-opus-5-5'], signal());
    expect(problems).toEqual([{ kind: 'not_found', status: 404, message: 'unknown model claude-sonet-5-5 (did you mean "claude-sonnet-5-5"?)' }]);
  });

  test('a missing key names the variable and the way out, and asks nothing', async () => {
    const p = new AnthropicProvider(anthropicSettings(undefined, pricingTable(), { ANTHROPIC_BASE_URL: api.url }));
    const problems = await p.preflight(['claude-sonnet-5-5'], signal());
    expect(problems).toHaveLength(1);
    expect(problems[0]!.kind).toBe('config');
    expect(problems[0]!.message).toMatch(/^ANTHROPIC_API_KEY is not set: export ANTHROPIC_API_KEY=/);
    expect(problems[0]!.message).toContain('--provider replay');
    expect(api.requests).toHaveLength(0);

    const custom = new AnthropicProvider(anthropicSettings({ anthropic: { api_key_env: 'TEAM_KEY' } }, pricingTable(), { ANTHROPIC_API_KEY: KEY }));
    expect((await custom.preflight(['claude-sonnet-5-5'], signal()))[0]!.message).toMatch(/^TEAM_KEY is not set/);
  });

  test('an unreachable endpoint names the URL and where it came from, once for all models', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const p = new AnthropicProvider({ ...anthropicSettings({ anthropic: { base_url: url } }, pricingTable(), { ANTHROPIC_API_KEY: KEY }), retry: FAST });
    const problems = await p.preflight(['claude-sonnet-5-5', 'claude-opus-5-5'], signal());
    expect(problems).toHaveLength(1);
    expect(problems[0]!.kind).toBe('network');
    expect(problems[0]!.message).toContain(`cannot reach the Anthropic API at ${url} (from providers.anthropic.base_url) (ECONNREFUSED)`);
  });

  test('a rejected key is reported once', async () => {
    await api.close();
    api = await startFakeAnthropic({ apiKey: 'sk-ant-other' });
    const problems = await provider().preflight(['claude-sonnet-5-5', 'claude-opus-5-5'], signal());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: 'auth', status: 401 });
    expect(problems[0]!.message).toContain('ANTHROPIC_API_KEY');
    expect(problems[0]!.message).not.toContain(KEY);
  });

  test('a base URL that is not a URL', async () => {
    const p = new AnthropicProvider(anthropicSettings({ anthropic: { base_url: 'localhost 8080' } }, pricingTable(), { ANTHROPIC_API_KEY: KEY }));
    const problems = await p.preflight(['claude-sonnet-5-5'], signal());
    expect(problems[0]).toMatchObject({ kind: 'config' });
    expect(problems[0]!.message).toContain('providers.anthropic.base_url is not a URL');
  });
});

describe('settings from config and environment', () => {
  test('base_url wins over ANTHROPIC_BASE_URL; FACTORY_RETRY_BASE_MS sets the first backoff', () => {
    const s = anthropicSettings({ anthropic: { base_url: 'http://a' } }, pricingTable(), { ANTHROPIC_BASE_URL: 'http://b', FACTORY_RETRY_BASE_MS: '5' });
    expect(s.baseURL).toBe('http://a');
    expect(s.baseURLFrom).toBe('providers.anthropic.base_url');
    expect(s.retry.initialDelayMs).toBe(5);
    const e = anthropicSettings(undefined, pricingTable(), { ANTHROPIC_BASE_URL: 'http://b' });
    expect([e.baseURL, e.baseURLFrom, e.keyEnv, e.apiKey]).toEqual(['http://b', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', undefined]);
    expect(anthropicSettings(undefined, pricingTable(), {}).baseURL).toBe('https://api.anthropic.com');
  });
});

describe('the fake server itself', () => {
  test('answers non-streaming requests as JSON that the SDK parses', async () => {
    api.script([{ reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.9, reason: 'good' } }]) }]);
    const client = new Anthropic({ apiKey: KEY, baseURL: api.url, maxRetries: 0 });
    const m = await client.messages.create({ model: 'claude-haiku-5-5', max_tokens: 10, messages: [{ role: 'user', content: 'judge' }] });
    expect(m.content[0]).toMatchObject({ type: 'tool_use', name: 'submit_score', input: { score: 0.9, reason: 'good' } });
    expect(api.requests[0]!.body.stream).toBeUndefined();
  });

  test('GET /v1/models/{id}: 200 for known models, the API error shape for others', async () => {
    const client = new Anthropic({ apiKey: KEY, baseURL: api.url, maxRetries: 0 });
    expect((await client.models.retrieve('claude-sonnet-5-5')).id).toBe('claude-sonnet-5-5');
    const err = await client.models.retrieve('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as InstanceType<typeof Anthropic.NotFoundError>).type).toBe('not_found_error');
  });

  test('rules with times step aside, functions see the request', async () => {
    api.script([
      { reply: textMessage('first'), times: 1 },
      { reply: (req) => textMessage(`echo ${req.body.messages[0].content}`) },
    ]);
    const p = provider();
    const a = await call(p, request('one'));
    const b = await call(p, request('two'));
    expect(a.ok && a.message.content[0]).toMatchObject({ text: 'first' });
    expect(b.ok && b.message.content[0]).toMatchObject({ text: 'echo two' });
  });
});

describe('an endpoint that is not the Anthropic API', () => {
  test('a bare 404 is a configuration problem, reported once', async () => {
    const api = await startFakeAnthropic({ models: [] });
    try {
      api.script([{ reply: { status: 404, body: 'Cannot POST /v1/messages' } }]);
      const p = new AnthropicProvider({ apiKey: KEY, baseURL: api.url, retry: FAST });
      const r = await call(p);
      expect(r).toMatchObject({ ok: false, error: { kind: 'config', status: 404 } });
      expect(!r.ok && r.error.message).toContain('is it the Anthropic API?');
    } finally {
      await api.close();
    }
  });
});

describe('errors that are not the network', () => {
  test('a callback that throws is not taken for a dropped connection and retried', async () => {
    const api = await startFakeAnthropic({ rules: [{ reply: textMessage('hello there') }] });
    try {
      const p = new AnthropicProvider({ apiKey: KEY, baseURL: api.url, retry: FAST });
      const r = await call(p, request(), {
        onText: () => {
          throw new Error('renderer bug');
        },
      });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.kind).not.toBe('network');
      expect(api.requests).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});
