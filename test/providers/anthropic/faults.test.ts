// The provider against the fake Messages API's faults, through the real SDK: deadlines (a stall
// after the headers, a ping-only stream, a response that never starts), usage reported as
// increments for every attempt (dropped, stalled, cancelled, retried), truncated answers, the
// content cap, retry-after and count_tokens.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { AnthropicProvider, anthropicSettings, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_STREAM_IDLE_TIMEOUT_MS, type AnthropicSettings } from '../../../src/providers/anthropic/anthropic.js';
import { pricingTable } from '../../../src/config/pricing.js';
import type { CallKey, ModelRequest, RetryInfo } from '../../../src/providers/types.js';
import { countTokensOf, rateLimited, startFakeAnthropic, textMessage, truncatedToolUse, type FakeAnthropic } from '../../support/fake-anthropic.js';
import type { Usage } from '../../../src/base/usage.js';

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

const provider = (settings: Partial<AnthropicSettings> = {}) => new AnthropicProvider({ apiKey: KEY, baseURL: api.url, retry: FAST, ...settings });

interface Seen {
  increments: Usage[];
  retries: RetryInfo[];
}
async function call(p: AnthropicProvider, req = request(), signal = new AbortController().signal, onUsage?: (u: Usage) => void) {
  const seen: Seen = { increments: [], retries: [] };
  const result = await p.call(req, {
    key,
    signal,
    onUsage: (u) => {
      seen.increments.push(u);
      onUsage?.(u);
    },
    onRetry: (i) => seen.retries.push(i),
  });
  return { result, ...seen };
}

const sum = (us: Usage[]): Usage =>
  us.reduce(
    (a, u) => ({
      input_tokens: a.input_tokens + u.input_tokens,
      output_tokens: a.output_tokens + u.output_tokens,
      cache_creation_input_tokens: a.cache_creation_input_tokens + u.cache_creation_input_tokens,
      cache_read_input_tokens: a.cache_read_input_tokens + u.cache_read_input_tokens,
    }),
    { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  );

describe('usage increments (onUsage)', () => {
  test('input and cache tokens at message_start, the rest at the end; they sum to the usage of the message', async () => {
    api.script([{ reply: textMessage('The plan.', { input_tokens: 120, output_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 400 }) }]);
    const { result, increments } = await call(provider());
    expect(result.ok).toBe(true);
    expect(increments.length).toBe(2);
    // message_start states the output so far (1 token, as the API does); the rest comes with the end.
    expect(increments[0]).toEqual({ input_tokens: 120, output_tokens: 1, cache_creation_input_tokens: 50, cache_read_input_tokens: 400 });
    expect(increments[1]).toEqual({ input_tokens: 0, output_tokens: 29, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(sum(increments)).toEqual({ input_tokens: 120, output_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 400 });
  });

  test('three streams dropped after message_start reported 180 input tokens, then success: every attempt is charged', async () => {
    api.script([{ reply: { drop: true, usage: { input_tokens: 180 } }, times: 3 }, { reply: textMessage('whole answer', { input_tokens: 180, output_tokens: 20 }) }]);
    const { result, increments, retries } = await call(provider({ retry: { ...FAST, maxRetries: 3 } }));
    expect(result.ok).toBe(true);
    expect(api.requests).toHaveLength(4);
    expect(retries.map((r) => r.error.kind)).toEqual(['network', 'network', 'network']);
    const total = sum(increments);
    expect(total.input_tokens).toBe(3 * 180 + 180);
    // Each dropped attempt streamed "partial " (8 bytes): its output is estimated at ceil(8 / 3) = 3 tokens.
    expect(total.output_tokens).toBe(3 * 3 + 20);
  });

  test('a stream that drops on every attempt is still charged for each', async () => {
    api.script([{ reply: { drop: true, usage: { input_tokens: 180, cache_read_input_tokens: 1000 } } }]);
    const { result, increments } = await call(provider());
    expect(result).toMatchObject({ ok: false, error: { kind: 'network' } });
    expect(sum(increments)).toMatchObject({ input_tokens: 3 * 180, cache_read_input_tokens: 3 * 1000 });
  });

  test('a request refused before its stream started (429, 500) reports nothing', async () => {
    api.script([{ reply: { status: 500 }, times: 1 }, { reply: rateLimited(0), times: 1 }, { reply: textMessage('ok', { input_tokens: 7, output_tokens: 3 }) }]);
    const { result, increments } = await call(provider());
    expect(result.ok).toBe(true);
    expect(sum(increments)).toEqual({ input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  });

  test('a call cancelled after message_start is charged what it reported', async () => {
    api.script([{ reply: { stall: true, start: { input_tokens: 180 } } }]);
    const controller = new AbortController();
    const { result, increments } = await call(provider(), request(), controller.signal, () => controller.abort());
    expect(result).toMatchObject({ ok: false, error: { kind: 'aborted' } });
    expect(sum(increments).input_tokens).toBe(180);
    expect(api.requests).toHaveLength(1);
  });
});

describe('deadlines', () => {
  test('defaults, and both settable under providers.anthropic', () => {
    const d = anthropicSettings(undefined, pricingTable(), {});
    expect([d.requestTimeoutMs, d.idleTimeoutMs]).toEqual([DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_STREAM_IDLE_TIMEOUT_MS]);
    expect([DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_STREAM_IDLE_TIMEOUT_MS]).toEqual([600_000, 90_000]);
    const s = anthropicSettings({ anthropic: { request_timeout: '2m', stream_idle_timeout: '1m30s' } }, pricingTable(), {});
    expect([s.requestTimeoutMs, s.idleTimeoutMs]).toEqual([120_000, 90_000]);
    const off = anthropicSettings({ anthropic: { request_timeout: '0s', stream_idle_timeout: '0s' } }, pricingTable(), {});
    expect([off.requestTimeoutMs, off.idleTimeoutMs]).toEqual([0, 0]);
  });

  test('a response that stalls after its headers: retried, then kind timeout naming the idle deadline and its setting', async () => {
    api.script([{ reply: { stall: true } }]);
    const { result, retries } = await call(provider({ idleTimeoutMs: 150 }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    if (result.ok) return;
    expect(result.error.message).toContain('no content for 150ms after the response started (the stream idle timeout; pings do not count) after 2 retries');
    expect(result.error.message).toContain('providers.anthropic.stream_idle_timeout');
    expect(result.error.message).toContain(api.url);
    expect(api.requests).toHaveLength(3);
    expect(retries.map((r) => r.error.kind)).toEqual(['timeout', 'timeout']);
  });

  test('a stream of pings only does not hold the idle deadline off', async () => {
    api.script([{ reply: { stall: true, pingEveryMs: 20 } }]);
    const { result } = await call(provider({ idleTimeoutMs: 200, retry: { ...FAST, maxRetries: 0 } }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    expect(!result.ok && result.error.message).toContain('stream_idle_timeout');
  });

  test('a stream that started (message_start with 180 input tokens), then only pings: charged, retried, then timeout', async () => {
    api.script([{ reply: { stall: true, start: { input_tokens: 180 }, pingEveryMs: 20 }, times: 1 }, { reply: textMessage('done', { input_tokens: 180, output_tokens: 4 }) }]);
    const { result, increments, retries } = await call(provider({ idleTimeoutMs: 200 }));
    expect(result.ok && result.message.content[0]).toMatchObject({ text: 'done' });
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error.kind).toBe('timeout');
    expect(sum(increments).input_tokens).toBe(360);
  });

  test('a slow but steady stream is not idle', async () => {
    api.script([{ reply: { ...textMessage('a'.repeat(200)), chunkSize: 10, chunkDelayMs: 30 } }]);
    const { result } = await call(provider({ idleTimeoutMs: 5000 }));
    expect(result.ok && result.message.content[0]).toMatchObject({ text: 'a'.repeat(200) });
  });

  test('a response that does not start within the request timeout: retried, then kind timeout naming request_timeout', async () => {
    api.script([{ reply: { ...textMessage('late'), latencyMs: 3000 } }]);
    const { result, retries } = await call(provider({ requestTimeoutMs: 150, retry: { ...FAST, maxRetries: 1 } }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'timeout' } });
    if (result.ok) return;
    expect(result.error.message).toContain('did not start answering within 150ms (the request timeout) after 1 retry');
    expect(result.error.message).toContain('providers.anthropic.request_timeout');
    expect(retries.map((r) => r.error.kind)).toEqual(['timeout']);
    expect(api.requests).toHaveLength(2);
  });

  test("the engine's signal still aborts a stalled stream at once, as aborted", async () => {
    api.script([{ reply: { stall: true, start: { input_tokens: 5 } } }]);
    const controller = new AbortController();
    // Once the request is at the server (and with no idle deadline, only the signal can end it).
    const poll = setInterval(() => {
      if (api.requests.length === 0) return;
      clearInterval(poll);
      controller.abort();
    }, 5);
    const { result } = await call(provider({ idleTimeoutMs: 0 }), request(), controller.signal);
    expect(result).toMatchObject({ ok: false, error: { kind: 'aborted' } });
    expect(api.requests).toHaveLength(1);
  });
});

describe('answers cut off', () => {
  const review = { verdict: 'approve', findings: [{ severity: 'critical', file: 'src/a.ts', text: 'one critical problem' }], summary: 'one critical problem' };

  test('a tool call cut mid-input by max_tokens comes back as the API sent it: stop_reason max_tokens', async () => {
    api.script([{ reply: { ...truncatedToolUse({ name: 'submit_review', input: review }, { keep: 40 }), chunkSize: 8 } }]);
    const { result, increments } = await call(provider());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.message.stop_reason).toBe('max_tokens');
    const block = result.message.content.find((b) => b.type === 'tool_use');
    // The SDK parses the cut JSON leniently: what it hands back is not the whole input.
    expect(block).toMatchObject({ type: 'tool_use', name: 'submit_review' });
    expect(block && 'input' in block && block.input).not.toEqual(review);
    expect(increments.length).toBeGreaterThan(0);
    expect(api.requests).toHaveLength(1);
  });

  test('a tool call whose input JSON was cut although the API said tool_use is an error, not retried', async () => {
    api.script([{ reply: truncatedToolUse({ name: 'submit_review', input: review }, { keep: 30, stopReason: 'tool_use' }) }]);
    const { result, increments } = await call(provider());
    expect(result).toMatchObject({ ok: false, error: { kind: 'server' } });
    expect(!result.ok && result.error.message).toContain('ended the tool call submit_review before its input was complete JSON, with stop_reason tool_use');
    expect(api.requests).toHaveLength(1);
    expect(sum(increments).input_tokens).toBe(10);
  });

  test('a whole tool call is untouched', async () => {
    api.script([{ reply: truncatedToolUse({ name: 'submit_review', input: review }, { keep: JSON.stringify(review).length, stopReason: 'tool_use' }) }]);
    const { result } = await call(provider());
    expect(result.ok && result.message.content.find((b) => b.type === 'tool_use')).toMatchObject({ input: review });
  });

  test('more content than max_tokens allows ends the stream with a clear error, charged at most max_tokens of output', async () => {
    // max_tokens 10: the cap is 10 × 16 bytes + 64 KiB; this answer is 200 KB.
    api.script([{ reply: { ...textMessage('y'.repeat(200_000), { input_tokens: 12 }), chunkSize: 4096 } }]);
    const { result, increments } = await call(provider(), request('Write a lot.', { max_tokens: 10 }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'server' } });
    expect(!result.ok && result.error.message).toContain('streamed more than max_tokens 10 allows');
    expect(api.requests).toHaveLength(1);
    expect(sum(increments)).toMatchObject({ input_tokens: 12, output_tokens: 10 });
  });
});

describe('retry-after', () => {
  test('longer than the provider waits: the error says what the server asked and carries it', async () => {
    api.script([{ reply: rateLimited(120) }]);
    const { result } = await call(provider());
    expect(result).toMatchObject({ ok: false, error: { kind: 'rate_limit', status: 429, retryAfterMs: 120_000 } });
    expect(!result.ok && result.error.message).toContain('the API asked to wait 2m before retrying (longer than the 1m factory waits on its own)');
    expect(api.requests).toHaveLength(1);
  });

  test('retry-after-ms is read too, and a short wait asked on the last attempt is named', async () => {
    api.script([{ reply: { status: 529, headers: { 'retry-after-ms': '5' } } }]);
    const { result } = await call(provider());
    expect(result).toMatchObject({ ok: false, error: { kind: 'overloaded', retryAfterMs: 5 } });
    expect(!result.ok && result.error.message).toContain('after 2 retries: overloaded: the API asked to wait 5ms before retrying');
    expect(api.requests).toHaveLength(3);
  });

  test('an error without retry-after carries none', async () => {
    api.script([{ reply: { status: 500 } }]);
    const { result } = await call(provider());
    expect(!result.ok && 'retryAfterMs' in result.error).toBe(false);
  });
});

describe('count_tokens', () => {
  const tools = [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object' as const, properties: { path: { type: 'string' } } } }];

  test('asks POST /v1/messages/count_tokens with only what the endpoint takes, and returns its count', async () => {
    const req = request('Write a plan.', { system: 'You are careful.', tools, temperature: 0.2 } as Partial<ModelRequest>);
    const n = await provider().countTokens(req, new AbortController().signal);
    expect(api.requests).toHaveLength(1);
    const sent = api.requests[0]!;
    expect(`${sent.method} ${sent.path}`).toBe('POST /v1/messages/count_tokens');
    expect(Object.keys(sent.body).sort()).toEqual(['messages', 'model', 'system', 'tools']);
    expect(n).toBe(countTokensOf(sent.body));
  });

  test('CJK text counts more than as many ASCII characters', async () => {
    const p = provider();
    const ascii = await p.countTokens(request('a'.repeat(300)), new AbortController().signal);
    const cjk = await p.countTokens(request('漢'.repeat(300)), new AbortController().signal);
    expect(cjk!).toBeGreaterThan(ascii! * 2);
  });

  test('an endpoint without the route: undefined, not an error', async () => {
    await api.close();
    api = await startFakeAnthropic({ countTokens: false });
    expect(await provider().countTokens(request(), new AbortController().signal)).toBeUndefined();
    expect(api.requests).toHaveLength(1);
  });

  test('an answer without a number is undefined', async () => {
    await api.close();
    api = await startFakeAnthropic({ countTokens: () => Number.NaN });
    expect(await provider().countTokens(request(), new AbortController().signal)).toBeUndefined();
  });

  test('no key: undefined, and nothing is asked', async () => {
    const p = new AnthropicProvider({ apiKey: undefined, baseURL: api.url, retry: FAST });
    expect(await p.countTokens(request(), new AbortController().signal)).toBeUndefined();
    expect(api.requests).toHaveLength(0);
  });
});
