import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { validateValue } from '../../../src/config/schema.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/anthropic.js';
import { createProvider } from '../../../src/providers/index.js';
import { CassetteRecorder, RecordingProvider } from '../../../src/providers/replay/record.js';
import { ReplayProvider } from '../../../src/providers/replay/replay.js';
import type { CallKey, ModelRequest } from '../../../src/providers/types.js';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';

const KEY = 'sk-ant-api03-never-in-a-cassette';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'factory-replay-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const signal = () => new AbortController().signal;
const req = (text: string): ModelRequest => ({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: text }] });
const k = (stage: string, iteration: number, call: number, extra: Partial<CallKey> = {}): CallKey => ({ stage, iteration, call, ...extra });

function writeCassette(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

const cassette = {
  version: 1,
  calls: [
    { stage: 'plan', iteration: 0, call: 1, request: req('Write a plan.'), response: textMessage('the plan', { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 30 }) },
    { stage: 'build.generate', iteration: 2, call: 1, response: textMessage('iteration two') },
    { stage: 'build.validate', iteration: 1, call: 1, scenario: 'converts 1994', run: 2, response: toolUseMessage([{ name: 'submit_score', input: { score: 1, reason: 'ok' } }]) },
  ],
};

describe('replay', () => {
  test('a hit returns the recorded message with its recorded usage, and streams its text', async () => {
    const p = new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: false });
    const pieces: string[] = [];
    const r = await p.call(req('anything'), { key: k('plan', 0, 1), signal: signal(), onText: (t) => pieces.push(t) });
    expect(r.ok && r.message).toEqual(cassette.calls[0]!.response);
    expect(r.ok && r.message.usage).toMatchObject({ input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 30 });
    expect(pieces).toEqual(['the plan']);
    const loop = await p.call(req('x'), { key: k('build.generate', 2, 1), signal: signal() });
    expect(loop.ok && loop.message.content[0]).toMatchObject({ text: 'iteration two' });
    const judge = await p.call(req('x'), { key: k('build.validate', 1, 1, { scenario: 'converts 1994', run: 2 }), signal: signal() });
    expect(judge.ok && judge.message.stop_reason).toBe('tool_use');
  });

  test('usage: onUsage is called once with the recorded usage; no token counting', async () => {
    const p = new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: false });
    const increments: unknown[] = [];
    const r = await p.call(req('anything'), { key: k('plan', 0, 1), signal: signal(), onUsage: (u) => increments.push(u) });
    expect(r.ok).toBe(true);
    expect(increments).toEqual([{ input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 30 }]);
    const miss = await p.call(req('x'), { key: k('plan', 0, 9), signal: signal(), onUsage: (u) => increments.push(u) });
    expect(miss.ok).toBe(false);
    expect(increments).toHaveLength(1);
    expect('countTokens' in p).toBe(false);
  });

  test('a miss names the stage, iteration, call and the cassette file', async () => {
    const file = writeCassette('c.json', cassette);
    const p = new ReplayProvider({ cassette: file, strict: false, cwd: dir });
    const r = await p.call(req('x'), { key: k('build.generate', 3, 2), signal: signal() });
    expect(r).toMatchObject({ ok: false, error: { kind: 'cassette' } });
    expect(!r.ok && r.error.message).toBe('c.json has no recorded answer for stage "build.generate", iteration 3, call 2: record it with --provider anthropic --record c.json');
    const judge = await p.call(req('x'), { key: k('build.validate', 1, 1, { scenario: 'converts 1994', run: 1 }), signal: signal() });
    expect(!judge.ok && judge.error.message).toContain('scenario "converts 1994" run 1');
  });

  test('a miss for a stage the cassette has no call of at all lists the stages it records', async () => {
    const p = new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: false, cwd: dir });
    const r = await p.call(req('x'), { key: k('review', 0, 1), signal: signal() });
    expect(!r.ok && r.error.message).toBe(
      'c.json has no recorded answer for stage "review", call 1 (it has no call of this stage at all; it records plan, build.generate, build.validate): record it with --provider anthropic --record c.json',
    );
  });

  test('preflight: a cassette none of whose stages is a model stage here is refused as another pipeline\'s', async () => {
    const p = new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: false, cwd: dir });
    const foreign = await p.preflight([], signal(), ['spec', 'impl.write', 'check']);
    expect(foreign).toEqual([
      {
        kind: 'cassette',
        message:
          'the cassette c.json looks recorded for another pipeline: it records the stages plan, build.generate, build.validate, and none of them is a model stage here (spec, impl.write, check); replay a cassette recorded for this pipeline, or record one with --provider anthropic --record c.json',
      },
    ]);
    // One stage in common is enough (a stage added since the recording misses at its call instead).
    expect(await p.preflight([], signal(), ['plan', 'review'])).toEqual([]);
    expect(await p.preflight([], signal(), [])).toEqual([]);
    const empty = new ReplayProvider({ cassette: writeCassette('empty.json', { version: 1, calls: [] }), strict: false });
    expect(await empty.preflight([], signal(), ['plan'])).toEqual([]);
  });

  test('strict: a request that differs from the recorded one names the first differing path', async () => {
    const p = new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: true });
    const same = await p.call(req('Write a plan.'), { key: k('plan', 0, 1), signal: signal() });
    expect(same.ok).toBe(true);
    const r = await p.call(req('Write a better plan.'), { key: k('plan', 0, 1), signal: signal() });
    expect(r).toMatchObject({ ok: false, error: { kind: 'cassette' } });
    expect(!r.ok && r.error.message).toContain('at messages[0].content: recorded "Write a plan.", sent "Write a better plan."');
    const extra = await p.call({ ...req('Write a plan.'), stop_sequences: ['END'] }, { key: k('plan', 0, 1), signal: signal() });
    expect(!extra.ok && extra.error.message).toContain('at stop_sequences: recorded nothing, sent ["END"]');
    // Without a recorded request there is nothing to compare.
    expect((await p.call(req('x'), { key: k('build.generate', 2, 1), signal: signal() })).ok).toBe(true);
  });

  test('preflight: a valid cassette passes; a missing one is named', async () => {
    expect(await new ReplayProvider({ cassette: writeCassette('c.json', cassette), strict: false }).preflight([], signal())).toEqual([]);
    const missing = await new ReplayProvider({ cassette: path.join(dir, 'nope.json'), strict: false, cwd: dir }).preflight([], signal());
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ kind: 'cassette' });
    expect(missing[0]!.message).toMatch(/^no such cassette: nope\.json \(record one/);
  });

  test('preflight: schema errors point at line and column', async () => {
    const text = `{
  "version": 1,
  "calls": [
    {
      "stage": "plan",
      "iteration": 0,
      "call": 0,
      "respnse": {}
    }
  ]
}
`;
    const problems = await new ReplayProvider({ cassette: writeCassette('bad.json', text), strict: false, cwd: dir }).preflight([], signal());
    const lines = problems.map((p) => p.message);
    expect(lines).toContainEqual(expect.stringMatching(/^bad\.json:7:15 .*call.* at least 1/));
    expect(lines).toContainEqual(expect.stringMatching(/^bad\.json:8:7 unknown key "respnse".*did you mean "response"/));
    expect(problems.every((p) => p.kind === 'cassette' && p.diagnostic?.file === 'bad.json')).toBe(true);
  });

  test('preflight: broken JSON points at the place', async () => {
    const problems = await new ReplayProvider({ cassette: writeCassette('broken.json', '{\n  "version": 1,\n  "calls": [\n    {"stage": "plan",,}\n  ]\n}\n'), strict: false, cwd: dir }).preflight([], signal());
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]!.message).toMatch(/^broken\.json:4:\d+ /);
  });

  test('a hand-written YAML cassette is read too', async () => {
    const yaml = `version: 1\ncalls:\n  - stage: plan\n    iteration: 0\n    call: 1\n    response:\n      id: msg_1\n      type: message\n      role: assistant\n      model: claude-sonnet-5-5\n      content: [{ type: text, text: hello }]\n      stop_reason: end_turn\n      stop_sequence: null\n      usage: { input_tokens: 1, output_tokens: 1 }\n`;
    const r = await new ReplayProvider({ cassette: writeCassette('c.yaml', yaml), strict: false }).call(req('x'), { key: k('plan', 0, 1), signal: signal() });
    expect(r.ok && r.message.content[0]).toMatchObject({ text: 'hello' });
  });
});

describe('record', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test('record then replay gives identical messages; the cassette is valid after each call and holds no key', async () => {
    api.script([
      { match: { contains: 'plan' }, reply: textMessage('The plan.', { input_tokens: 50, output_tokens: 10, cache_creation_input_tokens: 40 }) },
      { match: { contains: 'build' }, reply: toolUseMessage([{ name: 'write_file', input: { path: 'a.ts', content: 'export {}' } }]) },
    ]);
    const file = path.join(dir, 'rec.json');
    const recorder = new CassetteRecorder(file, { env: { ANTHROPIC_API_KEY: KEY } });
    const live = new RecordingProvider(new AnthropicProvider({ apiKey: KEY, baseURL: api.url }), recorder);
    expect(live.name).toBe('anthropic');
    expect(await live.preflight(['claude-sonnet-5-5'], signal())).toEqual([]);

    const calls: [ModelRequest, CallKey][] = [
      [req('Write a plan.'), k('plan', 0, 1)],
      [req('Now build it.'), k('build.generate', 1, 1)],
    ];
    const liveAnswers = [];
    for (const [i, [request, key]] of calls.entries()) {
      const r = await live.call(request, { key, signal: signal() });
      expect(r.ok).toBe(true);
      liveAnswers.push(r.ok && r.message);
      const onDisk = JSON.parse(readFileSync(file, 'utf8'));
      expect(validateValue('cassette', onDisk)).toEqual([]);
      expect(onDisk.calls).toHaveLength(i + 1);
    }
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(KEY);
    expect(text).not.toMatch(/authorization|x-api-key/i);
    const saved = JSON.parse(text);
    expect(saved.calls[0]).toMatchObject({ stage: 'build.generate', iteration: 1, call: 1, request: req('Now build it.') });

    const replay = new ReplayProvider({ cassette: file, strict: true });
    expect(await replay.preflight([], signal())).toEqual([]);
    for (const [i, [request, key]] of calls.entries()) {
      const r = await replay.call(request, { key, signal: signal() });
      expect(r.ok && r.message).toEqual(liveAnswers[i]);
    }
  });

  test('a call made again replaces its entry; failed calls are not recorded; secrets in prompts are redacted', async () => {
    api.script([{ match: { contains: 'fail' }, reply: { status: 400 } }, { reply: (r) => textMessage(`answer ${r.body.messages[0].content.length}`) }]);
    const file = path.join(dir, 'rec.json');
    const recorder = new CassetteRecorder(file, { env: { DB_PASSWORD: 'hunter22' } });
    const live = new RecordingProvider(new AnthropicProvider({ apiKey: KEY, baseURL: api.url }), recorder);
    await live.call(req('one'), { key: k('plan', 0, 1), signal: signal() });
    await live.call(req('three password hunter22'), { key: k('plan', 0, 1), signal: signal() });
    const failed = await live.call(req('fail'), { key: k('plan', 0, 2), signal: signal() });
    expect(failed.ok).toBe(false);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.calls).toHaveLength(1);
    expect(saved.calls[0].request.messages[0].content).toBe('three password [redacted]');
  });

  test('recording passes usage increments and token counting through', async () => {
    api.script([{ reply: textMessage('ok', { input_tokens: 33, output_tokens: 4 }) }]);
    const live = new RecordingProvider(new AnthropicProvider({ apiKey: KEY, baseURL: api.url }), new CassetteRecorder(path.join(dir, 'rec.json')));
    const increments: { input_tokens: number; output_tokens: number }[] = [];
    const r = await live.call(req('x'), { key: k('plan', 0, 1), signal: signal(), onUsage: (u) => increments.push(u) });
    expect(r.ok).toBe(true);
    expect(increments.reduce((n, u) => n + u.input_tokens + u.output_tokens, 0)).toBe(37);
    expect(await live.countTokens(req('count me'), signal())).toBeGreaterThan(0);
    const replayed = new RecordingProvider(new ReplayProvider({ cassette: path.join(dir, 'rec.json'), strict: false }), new CassetteRecorder(path.join(dir, 'rec2.json')));
    expect(await replayed.countTokens(req('count me'), signal())).toBeUndefined();
  });

  test('recording to a folder that does not exist fails preflight', async () => {
    const recorder = new CassetteRecorder(path.join(dir, 'missing', 'rec.json'), { cwd: dir });
    const live = new RecordingProvider(new AnthropicProvider({ apiKey: KEY, baseURL: api.url }), recorder);
    const problems = await live.preflight([], signal());
    expect(problems).toEqual([{ kind: 'cassette', message: 'cannot record to missing/rec.json: its folder does not exist' }]);
  });

  test('keep: a resumed recording starts from the calls already there', async () => {
    api.script([{ reply: textMessage('new') }]);
    const file = writeCassette('rec.json', cassette);
    const live = new RecordingProvider(new AnthropicProvider({ apiKey: KEY, baseURL: api.url }), new CassetteRecorder(file, { keep: true }));
    await live.call(req('x'), { key: k('plan', 0, 1), signal: signal() });
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.calls.map((c: { stage: string }) => c.stage)).toEqual(['build.generate', 'build.validate', 'plan']);
    expect(saved.calls[2].response.content[0].text).toBe('new');
  });
});

describe('createProvider', () => {
  test('replay resolves the cassette against the factory.yaml folder; --replay wins', async () => {
    writeCassette('c.json', cassette);
    const made = createProvider('replay', { dir, providers: { replay: { cassette: 'c.json' } } }, {});
    expect(made.ok && made.provider.name).toBe('replay');
    if (!made.ok) return;
    expect(await made.provider.preflight([], signal())).toEqual([]);
    const other = createProvider('replay', { dir, providers: { replay: { cassette: 'c.json' } }, cassette: path.join(dir, 'other.json') }, {});
    expect(other.ok && (await other.provider.preflight([], signal()))[0]!.message).toContain('no such cassette');
  });

  test('replay without a cassette says how to name one', () => {
    const made = createProvider('replay', { dir }, {});
    expect(made).toEqual({ ok: false, error: { kind: 'config', message: 'the replay provider needs a cassette: set providers.replay.cassette in factory.yaml, or pass --replay FILE' } });
  });

  test('anthropic reads the key variable named in config; a recorder wraps any provider', async () => {
    const made = createProvider('anthropic', { dir, providers: { anthropic: { api_key_env: 'TEAM_KEY' } } }, {});
    expect(made.ok && (await made.provider.preflight(['claude-sonnet-5-5'], signal()))[0]!.message).toMatch(/^TEAM_KEY is not set/);
    const recorded = createProvider('replay', { dir, cassette: writeCassette('c.json', cassette), recorder: new CassetteRecorder(path.join(dir, 'out.json')) }, {});
    expect(recorded.ok && recorded.provider).toBeInstanceOf(RecordingProvider);
  });
});
