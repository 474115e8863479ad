import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { COMMAND, identityEnv, runJson, workspace } from './helpers.js';
import { cli, requireBuild, start } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
  api.script([{ reply: textMessage('Done.') }]);
});
afterEach(async () => {
  await api.close();
});

const messages = () => api.requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages');
const env = (dir: string) => ({ ...identityEnv(dir), ANTHROPIC_API_KEY: 'sk-ant-api03-TESTKEY0123456789abcdef', ANTHROPIC_BASE_URL: api.url });

/**
 * The run and the loop may spend 1.5s of wall time; the gate inside the loop is answered after
 * 2.5s. A model stage before the gate, and one after it inside the loop.
 */
const pipeline = (middle: string) => `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 64 }
budget: { wall_time: 1500ms }
stages:
  before:
    kind: plan
    prompt: Before.
  build:
    kind: loop
    needs: [before]
    max_iterations: 1
    budget: { wall_time: 1500ms }
    stages:
${middle}      after:
        kind: plan
        needs: [gate]
        prompt: After.
`;

describe('waiting for a human', () => {
  test('no model call is made while a gate waits, and the wait does not count against wall_time around it', async () => {
    const dir = workspace(pipeline('      gate:\n        kind: approve\n        message: Go on?\n'));
    const run = start(['apply'], dir, env(dir));
    const [, id, stage] = await run.waitFor(COMMAND);
    expect(stage).toBe('build.gate');
    expect(messages()).toHaveLength(1); // `before`
    await sleep(2500);
    expect(messages()).toHaveLength(1);
    expect(run.output()).not.toContain('after started');
    const answered = await cli(['approve', id!, stage!], dir, env(dir));
    expect(answered.code, answered.stderr).toBe(0);

    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(messages()).toHaveLength(2);
    const record = runJson(dir);
    expect(record.stages.build).toMatchObject({ status: 'succeeded' });
    expect(record.stages.build!.iterations![0]!.stages['build.after']!.status).toBe('succeeded');
  });

  test('the same 2.5s spent by a command instead does count: the command is stopped at the wall_time and the next call never made (exit 3)', async () => {
    const dir = workspace(pipeline('      gate:\n        kind: command\n        run: sleep 2.5\n'));
    const r = await cli(['apply'], dir, env(dir));
    expect(r.code, r.stderr).toBe(3);
    const body = runJson(dir).stages.build!.iterations![0]!.stages;
    expect(body['build.gate']).toMatchObject({ status: 'error', reason: 'budget' });
    expect(body['build.gate']!.message).toMatch(/wall_time budget of (the run|stage "build") is exhausted/);
    expect(body['build.after']!.status).not.toBe('succeeded');
    expect(messages()).toHaveLength(1);
  });
});
