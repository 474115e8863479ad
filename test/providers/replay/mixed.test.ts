// A cassette that mixes providers: anthropic calls (with `provider` or, as in old cassettes,
// without), and openai calls recorded as the Responses API or Chat Completions returned them.
// Replay answers each as the Message the live provider gave; the schema keeps each shape apart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { validateValue } from '../../../src/config/schema.js';
import { ReplayProvider } from '../../../src/providers/replay/replay.js';
import type { CallKey, ModelRequest } from '../../../src/providers/types.js';
import type { Usage } from '../../../src/base/usage.js';
import { textMessage } from '../../support/fake-anthropic.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'factory-mixed-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const request: ModelRequest = { model: 'any', max_tokens: 100, messages: [{ role: 'user', content: 'Review.' }] };
const key = (stage: string): CallKey => ({ stage, iteration: 0, call: 1 });

const chatCompletion = {
  id: 'chatcmpl_1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-5.4-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'submit_review', arguments: '{"verdict":"approve","score":0.9,"findings":[],"summary":"ok"}' } }] }, finish_reason: 'tool_calls', logprobs: null }],
  usage: { prompt_tokens: 500, completion_tokens: 40, total_tokens: 540, prompt_tokens_details: { cached_tokens: 400 } },
};
const response = {
  id: 'resp_1',
  object: 'response',
  created_at: 1,
  model: 'gpt-5.5',
  status: 'completed',
  output: [
    { type: 'reasoning', id: 'rs_1', summary: [] },
    { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Looks fine.', annotations: [] }] },
  ],
  usage: { input_tokens: 300, input_tokens_details: { cached_tokens: 0 }, output_tokens: 80, output_tokens_details: { reasoning_tokens: 60 }, total_tokens: 380 },
};
const calls = [
  { stage: 'claude', call: 1, response: textMessage('From Claude.', { input_tokens: 10, output_tokens: 2 }) },
  { stage: 'claude-tagged', call: 1, provider: 'anthropic', response: textMessage('Tagged.') },
  { stage: 'gpt-chat', call: 1, provider: 'openai', api: 'chat', response: chatCompletion },
  { stage: 'gpt-responses', call: 1, provider: 'openai', api: 'responses', response },
];

function replay(cassette: unknown): ReplayProvider {
  const file = path.join(dir, 'mixed.json');
  writeFileSync(file, JSON.stringify(cassette));
  return new ReplayProvider({ cassette: file, strict: false, cwd: dir });
}

async function answer(p: ReplayProvider, stage: string) {
  const charged: Usage[] = [];
  const result = await p.call(request, { key: key(stage), signal: new AbortController().signal, onUsage: (u) => charged.push(u) });
  return { result, charged };
}

test('each call is answered as its provider answered it live, and charged as recorded', async () => {
  const p = replay({ version: 1, calls });
  expect(await p.preflight([], new AbortController().signal, ['claude', 'gpt-chat'])).toEqual([]);

  const claude = await answer(p, 'claude');
  expect(claude.result.ok && claude.result.message.content).toEqual([{ type: 'text', text: 'From Claude.' }]);
  expect(claude.charged).toEqual([{ input_tokens: 10, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }]);
  expect((await answer(p, 'claude-tagged')).result.ok).toBe(true);

  const chat = await answer(p, 'gpt-chat');
  expect(chat.result.ok && chat.result.message).toMatchObject({
    stop_reason: 'tool_use',
    content: [{ type: 'tool_use', id: 'call_9', name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [], summary: 'ok' } }],
  });
  expect(chat.charged).toEqual([{ input_tokens: 100, output_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 400 }]);

  const responses = await answer(p, 'gpt-responses');
  expect(responses.result.ok && responses.result.message).toMatchObject({ stop_reason: 'end_turn', model: 'gpt-5.5', content: [{ type: 'text', text: 'Looks fine.' }] });
  expect(responses.charged).toEqual([{ input_tokens: 300, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }]);
});

test('a recorded tool call whose arguments were cut short, not marked as cut off, is a cassette error', async () => {
  const broken = structuredClone(chatCompletion);
  broken.choices[0]!.message.tool_calls[0]!.function.arguments = '{"verdict":"appr';
  const got = await answer(replay({ version: 1, calls: [{ stage: 'gpt-chat', call: 1, provider: 'openai', api: 'chat', response: broken }] }), 'gpt-chat');
  expect(got.result.ok).toBe(false);
  expect(!got.result.ok && got.result.error.kind).toBe('cassette');
  expect(!got.result.ok && got.result.error.message).toContain('submit_review');
});

test('the schema: an openai call names its api and holds an OpenAI response; an anthropic call holds a Message', () => {
  expect(validateValue('cassette', { version: 1, calls })).toEqual([]);
  expect(validateValue('cassette', { version: 1, calls: [{ stage: 'x', call: 1, provider: 'openai', response }] }).length).toBeGreaterThan(0);
  expect(validateValue('cassette', { version: 1, calls: [{ stage: 'x', call: 1, provider: 'openai', api: 'chat', response: textMessage('hi') }] }).length).toBeGreaterThan(0);
  expect(validateValue('cassette', { version: 1, calls: [{ stage: 'x', call: 1, response }] }).length).toBeGreaterThan(0);
  expect(validateValue('cassette', { version: 1, calls: [{ stage: 'x', call: 1, api: 'chat', response: textMessage('hi') }] }).length).toBeGreaterThan(0);
});

test('a missing answer says how to record it: with the one vendor the cassette holds, or live with each stage its own', async () => {
  const openaiOnly = calls.filter((c) => c.provider === 'openai');
  const one = await answer(replay({ version: 1, calls: openaiOnly }), 'nowhere');
  expect(!one.result.ok && one.result.error.message).toMatch(/: record it with --provider openai --record .*mixed\.json$/);
  const both = await answer(replay({ version: 1, calls }), 'nowhere');
  expect(!both.result.ok && both.result.error.message).toMatch(/: record it live, each stage with its own provider \(anthropic and openai: no --provider, and no provider: replay in factory\.yaml\), with --record .*mixed\.json$/);
});
