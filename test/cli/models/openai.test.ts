// `provider: openai` through the engine (in-process CLI, real SDK, fake OpenAI API): every model
// kind — a structured plan, a generate agent with its tools, a review's forced submit_review, a
// scenario judge's forced submit_score, a learn stage's forced submit_learnings — on both the Responses API and Chat Completions, priced
// and budgeted; the cut-off answer; the preflight's exit 2; recording and replaying the calls.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runInProcess } from '../../support/cli.js';
import { callsOf, startFakeOpenAI, textMessage, toolUseMessage, type FakeOpenAI, type RecordedRequest } from '../../support/fake-openai.js';
import { costOf, pricingTable } from '../../../src/config/pricing.js';
import { runJson, workspace } from './helpers.js';

const KEY = 'sk-proj-TESTKEY0123456789abcdefghij';
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, OPENAI_API_KEY: KEY, FACTORY_RETRY_BASE_MS: '1', ...extra });

const pipeline = (url: string, api: string, extra = '') => `version: 1
name: openai-kinds
defaults: { provider: openai, model: gpt-5.4-mini, max_tokens: 1024 }
providers:
  openai: { base_url: "${url}", api: ${api} }
budget: { cost_usd: 1 }
${extra}stages:
  triage:
    kind: plan
    prompt: Decide the route.
    effort: low
    output_schema:
      type: object
      properties: { route: { enum: [fix, ship] } }
      required: [route]
  build:
    kind: generate
    needs: [triage]
    prompt: Write hello.txt saying hello.
    writes: ["hello.txt"]
  review:
    kind: review
    needs: [build]
    rubric: It says hello.
  validate:
    kind: scenario-validate
    needs: [review]
    scenarios: scenarios/*.yaml
    judge_model: gpt-5.4-mini
  lesson:
    kind: learn
    needs: [validate]
    prompt: What did this run teach?
`;

const FILES = {
  'scenarios/hello.yaml': 'name: says hello\nsteps:\n  - run: cat hello.txt\n    expect: { stdout_contains: hello }\njudge:\n  rubric: The greeting is friendly.\n',
};

/** Whether the request carries a tool result, in either API's words. */
const hasToolResult = (r: RecordedRequest) => /"function_call_output"|"role":"tool"/.test(JSON.stringify(r.body));
const U = { input_tokens: 100, cache_read_input_tokens: 300, output_tokens: 20 };

function script(api: FakeOpenAI): void {
  api.script([
    { match: { tool: 'submit_score' }, reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.9, reason: 'friendly' } }], U, { model: 'gpt-5.4-mini' }) },
    { match: { tool: 'submit_learnings' }, reply: toolUseMessage([{ name: 'submit_learnings', input: { learnings: [{ title: 'Greetings end with a newline', body: 'hello.txt is read by cat.', files: ['hello.txt'], tags: ['greeting'] }] } }], U, { model: 'gpt-5.4-mini' }) },
    { match: { tool: 'submit_review' }, reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.95, findings: [], summary: 'Good.' } }], U, { model: 'gpt-5.4-mini' }) },
    { match: hasToolResult, reply: textMessage('Done: hello.txt written.', U, 'gpt-5.4-mini') },
    { match: { tool: 'write_file' }, reply: toolUseMessage([{ name: 'write_file', input: { path: 'hello.txt', content: 'hello, world\n' } }], U, { model: 'gpt-5.4-mini' }) },
    { match: { contains: 'Decide the route.' }, reply: textMessage('{"route":"fix"}', U, 'gpt-5.4-mini') },
  ]);
}

let api: FakeOpenAI;
beforeEach(async () => {
  api = await startFakeOpenAI();
});
afterEach(async () => {
  await api.close();
});

describe.each(['responses', 'chat'] as const)('every model kind on the %s API', (which) => {
  test('plan, generate, review, a judge and learn run, are charged at OpenAI prices, and record and replay', async () => {
    script(api);
    const dir = workspace(pipeline(api.url, which), FILES);
    const r = await runInProcess(['apply', '--record', 'calls.json'], dir, env());
    expect(r.code, r.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.triage!.outputs.json).toEqual({ route: 'fix' });
    expect(record.stages.build!.outputs).toMatchObject({ files_changed: ['hello.txt'], turns: 2 });
    expect(readFileSync(path.join(dir, 'hello.txt'), 'utf8')).toBe('hello, world\n');
    expect(record.stages.review!.outputs).toMatchObject({ verdict: 'approve', approved: true });
    expect(record.stages.validate!.outputs).toMatchObject({ passed: true, satisfaction: 1 });
    expect(readFileSync(path.join(dir, 'docs', 'learnings', 'greetings-end-with-a-newline.md'), 'utf8')).toContain('hello.txt is read by cat.');

    const sent = callsOf(api.requests);
    expect(sent).toHaveLength(6);
    expect(sent.every((s) => s.path === (which === 'chat' ? '/v1/chat/completions' : '/v1/responses'))).toBe(true);
    // Six calls, each 100 fresh + 300 cached prompt tokens and 20 output, at gpt-5.4-mini's prices.
    const usage = { input_tokens: 600, output_tokens: 120, cache_creation_input_tokens: 0, cache_read_input_tokens: 1800 };
    expect(record.usage).toEqual(usage);
    expect(record.cost_usd).toBeCloseTo(costOf('gpt-5.4-mini', usage, pricingTable())!, 5);
    expect(costOf('gpt-5.4-mini', usage, pricingTable())).toBeCloseTo((600 * 0.75 + 120 * 4.5 + 1800 * 0.075) / 1e6, 12);

    const cassette = JSON.parse(readFileSync(path.join(dir, 'calls.json'), 'utf8')) as { calls: { provider?: string; api?: string; response: { object?: string } }[] };
    expect(cassette.calls).toHaveLength(6);
    expect(cassette.calls.every((c) => c.provider === 'openai' && c.api === which && c.response.object === (which === 'chat' ? 'chat.completion' : 'response'))).toBe(true);
    expect(readFileSync(path.join(dir, 'calls.json'), 'utf8')).not.toContain(KEY);
    // The cassette being recorded in the workspace is the run's own file, not a change to review.
    expect(readFileSync(path.join(dir, '.factory', 'runs', record.id, 'stages', 'review.prompt.md'), 'utf8')).toContain('hello.txt');
    expect(readFileSync(path.join(dir, '.factory', 'runs', record.id, 'stages', 'review.prompt.md'), 'utf8')).not.toContain('calls.json');

    const replayed = await runInProcess(['apply', '--replay', 'calls.json', '--no-cache'], dir, { PATH: process.env.PATH });
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(callsOf(api.requests)).toHaveLength(6);
    const again = runJson(dir);
    expect(again.usage).toEqual(usage);
    expect(again.stages.review!.outputs).toMatchObject({ approved: true });
  });
});

describe('limits and preflight', () => {
  test('an answer cut off at the output limit ends the stage in error, reason output, after one larger try', async () => {
    api.script([{ reply: { ...textMessage('{"route":', U, 'gpt-5.4-mini'), stop_reason: 'max_tokens' } }]);
    const dir = workspace(pipeline(api.url, 'chat'), FILES);
    const r = await runInProcess(['apply', '--only', 'triage'], dir, env());
    expect(r.code).toBe(1);
    expect(runJson(dir).stages.triage).toMatchObject({ status: 'error', reason: 'output' });
    expect(callsOf(api.requests).map((c) => c.body.max_completion_tokens)).toEqual([1024, 2048]);
  });

  test('a cost budget too small for one call refuses it at OpenAI prices: exit 3, nothing sent', async () => {
    const dir = workspace(pipeline(api.url, 'responses').replace('budget: { cost_usd: 1 }', 'budget: { cost_usd: 0.000001 }'), FILES);
    const r = await runInProcess(['apply', '--only', 'triage'], dir, env());
    expect(r.code, r.stderr).toBe(3);
    expect(callsOf(api.requests)).toHaveLength(0);
  });

  test('preflight: an unknown model is exit 2 with the nearest listed name; a missing key is exit 2 naming the variable', async () => {
    // Without a cost budget, so the model is asked of the endpoint rather than refused for want of a price.
    const yaml = pipeline(api.url, 'responses').replace('budget: { cost_usd: 1 }\n', '').replace('model: gpt-5.4-mini, max', 'model: gpt-5.4-mimi, max');
    const dir = workspace(yaml, FILES);
    const unknown = await runInProcess(['apply'], dir, env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown model gpt-5.4-mimi');
    expect(unknown.stderr).toContain('did you mean "gpt-5.4-mini"');
    expect(callsOf(api.requests)).toHaveLength(0);

    const noKey = await runInProcess(['apply'], workspace(pipeline(api.url, 'responses'), FILES), { PATH: process.env.PATH });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('OPENAI_API_KEY is not set');
    expect(existsSync(path.join(dir, 'hello.txt'))).toBe(false);
  });

  test('doctor checks the variable of the OpenAI key, never printing the key', async () => {
    const dir = workspace(pipeline(api.url, 'chat'), FILES);
    const ok = await runInProcess(['doctor'], dir, env());
    expect(ok.stdout).toContain('✓ API key in OPENAI_API_KEY');
    expect(ok.stdout).toContain('✓ pricing of gpt-5.4-mini');
    expect(ok.stdout).not.toContain(KEY);
    const missing = await runInProcess(['doctor'], dir, { PATH: process.env.PATH });
    expect(missing.stdout).toContain('✗ OPENAI_API_KEY is not set');
  });

  test('preflight: an endpoint that cannot be reached is exit 2 before any stage', async () => {
    const url = api.url;
    await api.close();
    api = await startFakeOpenAI();
    const dir = workspace(pipeline(url, 'chat'), FILES);
    const r = await runInProcess(['apply'], dir, env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot reach the OpenAI API at ${url}`);
  });
});

describe('a pipeline that mixes vendors', () => {
  test('an anthropic stage and an openai stage record into one cassette, which replays both', async () => {
    const { startFakeAnthropic, textMessage: claudeText } = await import('../../support/fake-anthropic.js');
    const claude = await startFakeAnthropic({ rules: [{ reply: claudeText('Claude says ship.') }] });
    api.script([{ reply: textMessage('GPT says ship.', U, 'gpt-5.4') }]);
    const dir = workspace(`version: 1
defaults: { max_tokens: 512 }
providers:
  openai: { base_url: "${api.url}" }
stages:
  claude: { kind: plan, provider: anthropic, model: claude-sonnet-5-5, prompt: Ship? }
  gpt: { kind: plan, provider: openai, model: gpt-5.4, prompt: Ship? }
`);
    try {
      const r = await runInProcess(['apply', '--record', 'mixed.json'], dir, env({ ANTHROPIC_API_KEY: 'sk-ant-api03-mixedkey0123456789', ANTHROPIC_BASE_URL: claude.url }));
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await claude.close();
    }
    const cassette = JSON.parse(readFileSync(path.join(dir, 'mixed.json'), 'utf8')) as { calls: { stage: string; provider?: string; api?: string }[] };
    expect(cassette.calls.map((c) => [c.stage, c.provider, c.api])).toEqual([['claude', 'anthropic', undefined], ['gpt', 'openai', 'chat']]);
    const replayed = await runInProcess(['apply', '--replay', 'mixed.json', '--no-cache'], dir, { PATH: process.env.PATH });
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(runJson(dir).stages.gpt!.outputs.text).toBe('GPT says ship.');
    expect(runJson(dir).stages.claude!.outputs.text).toBe('Claude says ship.');
  });

  test('a matrix over vendors: each instance calls its own provider and model; a provider that does not exist is exit 2 before any call', async () => {
    const { startFakeAnthropic, textMessage: claudeText } = await import('../../support/fake-anthropic.js');
    const claude = await startFakeAnthropic({ rules: [{ reply: claudeText('Claude says ship.') }] });
    api.script([{ reply: textMessage('GPT says ship.', U, 'gpt-5.4') }]);
    const yaml = (second: string) => `version: 1
defaults: { max_tokens: 512 }
providers:
  openai: { base_url: "${api.url}" }
stages:
  ask:
    kind: plan
    prompt: Ship?
    matrix:
      include:
        - { provider: anthropic, model: claude-sonnet-5-5 }
        - { provider: ${second}, model: gpt-5.4 }
    provider: \${{ matrix.provider }}
    model: \${{ matrix.model }}
`;
    const keys = env({ ANTHROPIC_API_KEY: 'sk-ant-api03-mixedkey0123456789', ANTHROPIC_BASE_URL: claude.url });
    try {
      const dir = workspace(yaml('openai'));
      const r = await runInProcess(['apply'], dir, keys);
      expect(r.code, r.stderr).toBe(0);
      const record = runJson(dir);
      expect(record.stages['ask[1]']!.outputs.text).toBe('Claude says ship.');
      expect(record.stages['ask[2]']!.outputs.text).toBe('GPT says ship.');
      expect(claude.requests.filter((q) => q.path === '/v1/messages').map((q) => (q.body as { model: string }).model)).toEqual(['claude-sonnet-5-5']);
      expect(callsOf(api.requests).map((q) => q.body.model)).toEqual(['gpt-5.4']);

      const wrong = workspace(yaml('gemini'));
      const refused = await runInProcess(['apply'], wrong, keys);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('factory.yaml:13:15 error  stage "ask": its matrix gives the provider "gemini", which does not exist');
    } finally {
      await claude.close();
    }
  });
});
