// A `retry-after` longer than the provider waits on its own reaches the stage's retries (SPEC
// section 3): they wait what the API asked when the stage can afford it, else end the stage and
// say why, instead of firing again at once. Through the built CLI, the real SDK and the fake API.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MAX_STAGE_RETRY_AFTER_MS, retryWait } from '../../../src/engine/schedule/attempts.js';
import { rateLimited, startFakeAnthropic, textMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, messagesOf, runJson, workspace } from '../models/helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const pipeline = (stage: string, top = '') => `version: 1
defaults:
  model: claude-sonnet-5-5
  max_tokens: 256
${top}stages:
  plan:
    kind: plan
    prompt: Plan it.
${stage}`;

describe('stage retries after a retry-after', () => {
  test('longer than the stage timeout: not retried, and the record says what the API asked', async () => {
    api.script([{ reply: rateLimited(120) }]);
    const dir = workspace(pipeline('    timeout: 30s\n    retries: 2\n'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(1);
    const plan = runJson(dir).stages.plan!;
    expect(plan).toMatchObject({ status: 'error', reason: 'provider', attempts: 1 });
    expect(plan.message).toContain('rate limited by the Anthropic API (429): rate limit exceeded: the API asked to wait 2m before retrying (longer than the 1m factory waits on its own)');
    expect(plan.message).toContain("not retried: the API asked to wait 2m before retrying, longer than the stage's timeout (30s)");
    expect(r.stderr + r.stdout).toContain('asked to wait 2m');
  });

  test('longer than a stage retry ever waits: not retried', async () => {
    api.script([{ reply: rateLimited(3600) }]);
    const dir = workspace(pipeline(''));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(1);
    expect(runJson(dir).stages.plan!.message).toContain('not retried: the API asked to wait 1h before retrying, longer than a stage retry waits (10m)');
  });

  test('more than the wall_time budget has left: not retried', async () => {
    api.script([{ reply: rateLimited(120) }]);
    const dir = workspace(pipeline('', 'budget:\n  wall_time: 90s\n'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(1);
    expect(runJson(dir).stages.plan!.message).toMatch(/not retried: the API asked to wait 2m before retrying, and only [0-9hms.]+ of the wall_time budget is left/);
  });

  test('a wait the stage can afford: the next attempt comes after it and succeeds', async () => {
    // The provider's own 3 retries each honour the 300 ms, then give up; the stage waits as asked and tries again.
    api.script([{ reply: { status: 429, headers: { 'retry-after-ms': '300' } }, times: 4 }, { reply: textMessage('The plan.') }]);
    const dir = workspace(pipeline('    retries: 1\n'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(messagesOf(api.requests)).toHaveLength(5);
    expect(runJson(dir).stages.plan).toMatchObject({ status: 'succeeded', attempts: 2, outputs: { text: 'The plan.' } });
  });
});

describe('retryWait', () => {
  test('no retry-after, or a shorter one: the backoff', () => {
    expect(retryWait(400, undefined, {})).toEqual({ ok: true, ms: 400 });
    expect(retryWait(400, 100, {})).toEqual({ ok: true, ms: 400 });
  });

  test('a longer one within every limit: what the API asked', () => {
    expect(retryWait(400, 120_000, { timeoutMs: 300_000, wallTimeLeftMs: 600_000 })).toEqual({ ok: true, ms: 120_000 });
    expect(retryWait(400, MAX_STAGE_RETRY_AFTER_MS, { wallTimeLeftMs: null })).toEqual({ ok: true, ms: MAX_STAGE_RETRY_AFTER_MS });
  });

  test('past a limit: no retry, and why', () => {
    expect(retryWait(400, MAX_STAGE_RETRY_AFTER_MS + 1, {})).toMatchObject({ ok: false, why: expect.stringContaining('longer than a stage retry waits (10m)') });
    expect(retryWait(400, 120_000, { timeoutMs: 60_000 })).toEqual({ ok: false, why: "the API asked to wait 2m before retrying, longer than the stage's timeout (1m)" });
    expect(retryWait(400, 120_000, { wallTimeLeftMs: 30_000 })).toEqual({ ok: false, why: 'the API asked to wait 2m before retrying, and only 30s of the wall_time budget is left' });
  });
});
