import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { COMMAND, identityEnv, runDirOf, runJson, workspace } from './helpers.js';
import { cli, events, requireBuild, start } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const messages = () => api.requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages');
const apiEnv = (dir: string, user = 'ada') => ({ ...identityEnv(dir, undefined, user), ANTHROPIC_API_KEY: 'sk-ant-api03-TESTKEY0123456789abcdef', ANTHROPIC_BASE_URL: api.url });

/** A plan whose prompt (about 250 tokens) does not fit the stage's budget of 100 tokens. */
const tight = (budget: string) => `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 64 }
stages:
  plan:
    kind: plan
    prompt: "${'word '.repeat(200)}"
    budget: { tokens: 100, on_exhausted: ask, ${budget} }
  after:
    kind: command
    needs: [plan]
    run: echo after
`;

describe('budget.on_exhausted: ask', () => {
  test('approved: the call goes on under the raised budget, and the raise is recorded', async () => {
    const dir = workspace(tight('extend: { tokens: 2k }'));
    api.script([{ reply: textMessage('The plan.', { input_tokens: 300, output_tokens: 20 }) }]);
    const env = apiEnv(dir);
    const run = start(['apply', '--json'], dir, env);
    await run.waitFor(/"type":"approval_waiting"/);
    const question = events(run.output()).find((e) => e.type === 'approval_waiting')!;
    expect(question.message).toMatch(/^the tokens budget of stage "plan" cannot pay for another model call: 0 tokens spent of 100 tokens, the call needs at least [\d,]+ tokens\. Raise the tokens budget of stage "plan" by 2,000 tokens \(to 2,100 tokens\) and go on\?$/);
    expect(question.show).toEqual([
      { label: 'spent', value: '0 tokens of 100 tokens' },
      { label: 'raise by', value: '2,000 tokens' },
      { label: 'next', value: expect.stringMatching(/^model call 1 \(claude-sonnet-5-5, about \d+ prompt tokens, up to 64 output tokens\)$/) },
    ]);
    // Asked before the call: nothing was sent.
    expect(messages()).toHaveLength(0);
    const [, id, stage] = String(question.command).match(COMMAND)!;
    expect(stage).toBe('plan');
    const answered = await cli(['approve', id!, 'plan'], dir, env);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toContain('approved the budget question of "plan"');

    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(messages()).toHaveLength(1);
    const record = runJson(dir);
    expect(record.stages.plan).toMatchObject({ status: 'succeeded', outputs: { text: 'The plan.' }, message: 'budget raised: tokens of "plan" by 2,000 tokens to 2,100 tokens (approved by ada)' });
    expect(record.stages.after!.status).toBe('succeeded');
    const transcript = readFileSync(path.join(runDirOf(dir), 'stages', 'plan.transcript.jsonl'), 'utf8');
    expect(transcript).toMatch(/"type":"budget_raised","scope":"plan","budget":"tokens","by":2000,"limit":2100,"approvedBy":"ada"/);
  });

  test('rejected: the stage ends as with stop (error, reason budget, exit 3) and nothing is called', async () => {
    const dir = workspace(tight('timeout: 1m'));
    const env = apiEnv(dir, 'linus');
    const run = start(['apply'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    expect(run.output()).toMatch(/\? plan waiting for approval: the tokens budget of stage "plan" cannot pay/);
    expect(run.output()).toContain('?   raise by: 100 tokens'); // default: the original limit
    const answered = await cli(['approve', id!, 'plan', '--reject', '--comment', 'too dear'], dir, env);
    expect(answered.code, answered.stderr).toBe(0);
    const done = await run.done;
    expect(done.code).toBe(3);
    expect(messages()).toHaveLength(0);
    const record = runJson(dir);
    expect(record.stages.plan).toMatchObject({ status: 'error', reason: 'budget' });
    expect(record.stages.plan!.message).toMatch(/cannot pay for another model call: .*; raising it was rejected by linus: too dear$/);
    expect(record.stages.after!.status).toBe('skipped');
  });

  test('no answer within budget.timeout: as with stop (exit 3)', async () => {
    const dir = workspace(tight('timeout: 300ms'));
    const r = await cli(['apply'], dir, apiEnv(dir));
    expect(r.code, r.stderr).toBe(3);
    expect(runJson(dir).stages.plan!.message).toMatch(/; no answer to raising it within 300ms$/);
    expect(messages()).toHaveLength(0);
  });

  test("a loop's budget: a call that exhausts it asks, showing what the stage would do next; approved, the loop goes on", async () => {
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 64 }
stages:
  build:
    kind: loop
    max_iterations: 3
    until: \${{ loop.iteration == 2 }}
    budget: { tokens: 400, on_exhausted: ask, timeout: 1m }
    stages:
      step:
        kind: plan
        prompt: Next step.
`);
    api.script([{ reply: textMessage('Step done.', { input_tokens: 200, output_tokens: 50 }) }]);
    const env = apiEnv(dir);
    const run = start(['apply', '--json'], dir, env);
    await run.waitFor(/"type":"approval_waiting"/);
    const question = events(run.output()).find((e) => e.type === 'approval_waiting')!;
    expect(question).toMatchObject({ stage: 'build.step', iteration: 2 });
    expect(question.message).toBe('the tokens budget of stage "build" is exhausted: 500 tokens spent of 400 tokens. Raise the tokens budget of "build" by 400 tokens (to 800 tokens) and go on?');
    expect(question.show).toContainEqual({ label: 'next', value: "finish with the model's answer (10 characters)" });
    const [, id, stage] = String(question.command).match(COMMAND)!;
    expect(stage).toBe('build.step');
    expect((await cli(['approve', id!, stage!], dir, env)).code).toBe(0);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(messages()).toHaveLength(2);
    const record = runJson(dir);
    expect(record.stages.build).toMatchObject({ status: 'succeeded', outputs: { iterations: 2, converged: true } });
    expect(record.stages.build!.iterations![1]!.stages['build.step']!.message).toBe('budget raised: tokens of "build" by 400 tokens to 800 tokens (approved by ada)');
  });
});
