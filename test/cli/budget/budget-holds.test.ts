import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, truncatedToolUse, type FakeAnthropic, type RecordedRequest } from '../../support/fake-anthropic.js';
import { apiEnv, messagesOf, runJson, workspace } from '../models/helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

/**
 * docs/models-and-budgets.md through the built CLI and the real SDK: budgets hold under parallel calls, an
 * answer cut off at max_tokens is never taken, and wall_time stops what is in flight.
 */
beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

type Body = { max_tokens: number; messages: unknown[]; system?: unknown };
const bodyOf = (req: RecordedRequest) => req.body as Body;
/** Input tokens as an API would count them: about four characters a token of what was sent. */
const inputOf = (req: RecordedRequest) => Math.ceil(JSON.stringify([bodyOf(req).system ?? '', bodyOf(req).messages]).length / 4);

/** A model that wants to write `wants` tokens: it stops there, or is cut off at max_tokens. */
function answerOf(req: RecordedRequest, wants: number) {
  const max = bodyOf(req).max_tokens;
  const out = Math.min(max, wants);
  return { ...textMessage('x'.repeat(out), { input_tokens: inputOf(req), output_tokens: out }), stop_reason: out < wants ? 'max_tokens' : 'end_turn', latencyMs: 40 };
}

const served = () => messagesOf(api.requests).reduce((sum, r) => sum + inputOf(r) + Math.min(bodyOf(r).max_tokens, 500), 0);

describe('parallel stages share a budget', () => {
  test('eight parallel plans under a 3,000-token run budget: the server serves no more than the budget, and the record says what it served', async () => {
    const stages = Array.from({ length: 8 }, (_, i) => `  p${i}:\n    kind: plan\n    prompt: Plan part ${i}.\n`).join('');
    const dir = workspace(`version: 1\nconcurrency: 8\nbudget: { tokens: 3000 }\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 500\n  retries: 0\nstages:\n${stages}`);
    api.script([{ reply: (req) => answerOf(req, 500) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(3);
    const calls = messagesOf(api.requests);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThan(8);
    expect(served()).toBeLessThanOrEqual(3000);
    const record = runJson(dir);
    const recorded = record.usage.input_tokens + record.usage.output_tokens;
    expect(recorded).toBe(served());
    const statuses = Object.values(record.stages).map((s) => `${s.status}/${s.reason ?? ''}`);
    // Every stage that called was answered; the one whose answer used the last token ends in error (budget), as at any exhaustion.
    expect(statuses.filter((s) => s === 'succeeded/').length).toBeGreaterThanOrEqual(calls.length - 1);
    expect(statuses.some((s) => s === 'error/budget')).toBe(true);
  });
});

describe('an answer cut off at max_tokens is never taken as complete', () => {
  test('a plan cut off is asked again once with twice the max_tokens; cut off again, it ends in error (output), writes nothing and is not cached', async () => {
    const dir = workspace('version: 1\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 100\n  retries: 0\nstages:\n  plan:\n    kind: plan\n    prompt: Plan it.\n    write: PLAN.md\n');
    api.script([{ reply: (req) => answerOf(req, 1000) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(messagesOf(api.requests).map((q) => bodyOf(q).max_tokens)).toEqual([100, 200]);
    expect(runJson(dir).stages.plan).toMatchObject({ status: 'error', reason: 'output' });
    expect(runJson(dir).stages.plan!.message).toMatch(/cut off .*max_tokens 200/);
    expect(existsSync(path.join(dir, 'PLAN.md'))).toBe(false);
    // Nothing truncated is cached: the next apply asks again.
    const again = await cli(['apply'], dir, apiEnv(api.url));
    expect(again.code).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(4);
  });

  test('a plan whose first answer is cut off but whose larger retry fits succeeds with the full answer', async () => {
    const dir = workspace('version: 1\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 100\nstages:\n  plan:\n    kind: plan\n    prompt: Plan it.\n');
    api.script([{ reply: (req) => answerOf(req, 150) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.plan!.outputs).toMatchObject({ text: 'x'.repeat(150) });
  });

  test('a submit_review cut off mid-input is never accepted as a verdict', async () => {
    const dir = workspace('version: 1\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 100\n  retries: 0\nstages:\n  review:\n    kind: review\n    rubric: Careful.\n');
    const cut = truncatedToolUse({ name: 'submit_review', input: { verdict: 'approve', score: 1, findings: [], summary: 'one critical problem in src/app.ts' } }, { keep: 60 });
    api.script([{ reply: cut }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(runJson(dir).stages.review).toMatchObject({ status: 'error', reason: 'output' });
    expect(runJson(dir).stages.review!.outputs?.approved).not.toBe(true);
  });

  test("an agent's tool call cut off never reaches the tool", async () => {
    const dir = workspace('version: 1\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 100\n  retries: 0\nstages:\n  gen:\n    kind: generate\n    prompt: Write it.\n');
    const cut = truncatedToolUse({ name: 'write_file', input: { path: 'out.txt', content: 'the whole file, of which half arrived' } });
    api.script([{ reply: cut }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(existsSync(path.join(dir, 'out.txt'))).toBe(false);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'output' });
  });
});

describe('wall_time stops what is in flight', () => {
  test('a model call that hangs is stopped when the run wall_time is reached: exit 3, reason budget', async () => {
    const dir = workspace('version: 1\nbudget: { wall_time: 1s }\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 100\n  retries: 0\nstages:\n  plan:\n    kind: plan\n    prompt: Plan it.\n');
    api.script([{ reply: { ...textMessage('late'), latencyMs: 60_000 } }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(3);
    expect(runJson(dir).stages.plan).toMatchObject({ status: 'error', reason: 'budget' });
    expect(runJson(dir).stages.plan!.message).toMatch(/wall_time budget of the run/);
  });

  test('a command stage without a timeout ends when the run wall_time is reached', async () => {
    const dir = workspace('version: 1\nbudget: { wall_time: 1s }\nstages:\n  slow:\n    kind: command\n    run: sleep 60\n');
    const r = await cli(['apply'], dir, {});
    expect(r.code, r.stderr).toBe(3);
    expect(runJson(dir).stages.slow).toMatchObject({ status: 'error', reason: 'budget' });
  });
});
