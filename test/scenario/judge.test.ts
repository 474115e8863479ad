import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../support/fake-anthropic.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run, TEST_ENV } from '../support/run-helpers.js';
import { validate, writeScenarios } from './helpers.js';

const judged = {
  name: 'explains errors',
  steps: [{ run: 'echo "error: give a positive number" >&2; exit 2', expect: { exit_code: 2 } }],
  judge: { rubric: 'The error message tells the user what a valid input is.' },
};

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const pipelineFor = (dir: string, extra: Record<string, unknown> = {}) =>
  buildPipeline(dir, {
    defaults: { provider: 'anthropic', model: 'claude-haiku-4-5' },
    providers: { anthropic: { base_url: api.url } },
    stages: { validate: validate(extra) },
  });
const env = { ...TEST_ENV, ANTHROPIC_API_KEY: 'sk-ant-test' };
const messages = () => api.requests.filter((r) => r.method === 'POST');

describe('scenario judge', () => {
  test('a forced submit_score call on the transcript; score ≥ 0.5 passes; the verdict is cached', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [judged]);
    api.script([{ match: { tool: 'submit_score' }, reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.9, reason: 'names the valid input' } }], { input_tokens: 200, output_tokens: 20 }) }]);
    const r = await run(pipelineFor(dir, { judge_model: 'claude-haiku-4-5' }), { env });
    expect(r.stage('validate')).toMatchObject({ status: 'succeeded', outputs: { satisfaction: 1, passed: true } });
    expect(r.stage('validate').usage.input_tokens).toBe(200);
    expect(r.stage('validate').cost_usd).toBeGreaterThan(0);
    const [req] = messages();
    expect(req!.body.tool_choice).toEqual({ type: 'tool', name: 'submit_score' });
    expect(req!.body.model).toBe('claude-haiku-4-5');
    expect(req!.body.tools[0].name).toBe('submit_score');
    const prompt = JSON.stringify(req!.body.messages);
    expect(prompt).toContain('The error message tells the user what a valid input is.');
    expect(prompt).toContain('error: give a positive number');
    expect(readdirSync(path.join(dir, '.factory', 'cache', 'judge'))).toHaveLength(1);

    // the same transcript, rubric and model: no second call
    const again = await run(pipelineFor(dir, { judge_model: 'claude-haiku-4-5' }), { env });
    expect(again.stage('validate').status).toBe('succeeded');
    expect(messages()).toHaveLength(1);
    expect(again.stage('validate').cost_usd).toBe(0);

    // --no-cache asks the judge anew
    api.script([{ match: { tool: 'submit_score' }, reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.8, reason: 'still names it' } }], { input_tokens: 200, output_tokens: 20 }) }]);
    const fresh = await run(pipelineFor(dir, { judge_model: 'claude-haiku-4-5' }), { env, noCache: true });
    expect(fresh.stage('validate').status).toBe('succeeded');
    expect(messages()).toHaveLength(2);
    expect(fresh.stage('validate').cost_usd).toBeGreaterThan(0);
  });

  test('a low score fails the scenario; at full the failure names the rubric and the reason', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [judged]);
    api.script([{ reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.2, reason: 'vague' } }]) }]);
    const r = await run(pipelineFor(dir, { feedback: 'full' }), { env });
    expect(r.stage('validate')).toMatchObject({ status: 'failed', reason: 'threshold' });
    const failures = (r.stage('validate').outputs.results as { failures: { step: string; actual: string }[] }[])[0]!.failures;
    expect(failures).toEqual([expect.objectContaining({ step: 'judge', actual: 'score 0.2: vague' })]);
  });

  test('no judge call when an expectation already failed', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [{ ...judged, steps: [{ run: 'true', expect: { exit_code: 2 } }] }]);
    const r = await run(pipelineFor(dir), { env });
    expect(r.stage('validate').status).toBe('failed');
    expect(messages()).toHaveLength(0);
  });

  test('a malformed answer is asked for once more, then the stage ends in error', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [judged]);
    api.script([{ reply: textMessage('I think it is fine.') }]);
    const r = await run(pipelineFor(dir), { env });
    expect(r.stage('validate')).toMatchObject({ status: 'error', reason: 'provider' });
    expect(r.stage('validate').message).toContain('the judge did not call submit_score');
    expect(messages()).toHaveLength(2);
  });

  test('a malformed first answer and a good second one pass', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [judged]);
    api.script([
      { reply: toolUseMessage([{ name: 'submit_score', input: { score: 'high' } }]), times: 1 },
      { reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.7, reason: 'ok' } }]) },
    ]);
    const r = await run(pipelineFor(dir), { env });
    expect(r.stage('validate').status).toBe('succeeded');
    expect(messages()).toHaveLength(2);
  });
});
