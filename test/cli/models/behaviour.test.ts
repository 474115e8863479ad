import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, bodyText, hasToolResult, messagesOf, runJson, toolResults, workspace } from './helpers.js';
import { cli, requireBuild, start } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const head = (extra = '') => `version: 1
defaults:
  model: claude-sonnet-5-5
  max_tokens: 256
${extra}stages:
`;

describe('providers and records', () => {
  test('a 429 is retried by the provider and the stage succeeds', async () => {
    const dir = workspace(`${head()}  plan:\n    kind: plan\n    prompt: Plan it.\n`);
    api.script([{ reply: { status: 429, headers: { 'retry-after': '0' } }, times: 1 }, { reply: textMessage('The plan.') }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(messagesOf(api.requests)).toHaveLength(2);
    expect(runJson(dir).stages.plan).toMatchObject({ status: 'succeeded', attempts: 1, outputs: { text: 'The plan.' } });
  });

  test('Ctrl-C in the middle of a stream cancels the stage and exits 130', async () => {
    const dir = workspace(`${head()}  plan:\n    kind: plan\n    prompt: Plan it.\n  after:\n    kind: plan\n    needs: [plan]\n    prompt: Never.\n`);
    api.script([{ reply: { ...textMessage('x'.repeat(4000)), chunkDelayMs: 20, chunkSize: 8 } }]);
    const run = start(['apply', '--json'], dir, apiEnv(api.url));
    await run.waitFor((e) => e.type === 'stage_output');
    run.kill('SIGINT');
    const { code } = await run.done;
    expect(code).toBe(130);
    const record = runJson(dir);
    expect(record.stages.plan).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(record.stages.after?.status).toBe('cancelled');
    expect(messagesOf(api.requests)).toHaveLength(1);
  });

  test('confinement refusals reach the model as is_error tool results', async () => {
    const dir = workspace(`${head()}  gen:\n    kind: generate\n    prompt: Try.\n    deny: ["secrets/**"]\n    writes: ["src/**"]\n`, { 'secrets/key.pem': 'PRIVATE', 'README.md': 'hi' });
    const hostile = ['../outside.txt', '/etc/passwd', '.git/config', '.env', 'secrets/key.pem', 'a\u0000b', '.factory/lock'];
    api.script([
      { match: (q) => hasToolResult(q), reply: textMessage('Gave up.') },
      {
        reply: toolUseMessage([
          ...hostile.map((p) => ({ name: 'read_file', input: { path: p } })),
          { name: 'write_file', input: { path: 'README.md', content: 'changed' } },
          { name: 'run_command', input: { command: 'cat /etc/passwd' } },
        ]),
      },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const results = toolResults(messagesOf(api.requests)[1]!);
    expect(results).toHaveLength(hostile.length + 2);
    for (const t of results) expect(t.is_error, t.content).toBe(true);
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('hi');
    for (const q of api.requests) expect(bodyText(q)).not.toContain('PRIVATE');
  });

  test('more tool errors than max_tool_errors end the stage in error (tool_errors)', async () => {
    const dir = workspace(`${head()}  gen:\n    kind: generate\n    prompt: Try.\n    max_tool_errors: 1\n`);
    api.script([{ reply: toolUseMessage([{ name: 'read_file', input: { path: '../a' } }, { name: 'read_file', input: { path: '../b' } }]) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'tool_errors' });
  });

  test('max_turns ends the stage in error (max_turns)', async () => {
    const dir = workspace(`${head()}  gen:\n    kind: generate\n    prompt: Loop.\n    max_turns: 2\n`, { 'a.txt': 'a' });
    api.script([{ reply: () => toolUseMessage([{ name: 'read_file', input: { path: 'a.txt' } }]) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'max_turns', outputs: { turns: 2 } });
    expect(messagesOf(api.requests)).toHaveLength(2);
  });

  test('record with --record, then replay with --replay and no key: the same run', async () => {
    const yaml = `${head()}  plan:\n    kind: plan\n    prompt: Plan it.\n  gen:\n    kind: generate\n    needs: [plan]\n    prompt: "Do: \${{ stages.plan.outputs.text }}"\n  review:\n    kind: review\n    needs: [gen]\n`;
    const dir = workspace(yaml);
    api.script([
      { match: { tool: 'submit_review' }, reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'request_changes', score: 0.4, findings: [{ severity: 'major', file: 'out.txt', line: 1, message: 'too short' }], summary: 'Needs work.' } }]) },
      { match: (q) => hasToolResult(q), reply: textMessage('Done.', { input_tokens: 50, output_tokens: 5, cache_read_input_tokens: 40 }) },
      { match: { tool: 'write_file' }, reply: toolUseMessage([{ name: 'write_file', input: { path: 'out.txt', content: 'out' } }]) },
      { reply: textMessage('Write out.txt.') },
    ]);
    const recorded = await cli(['apply', '--record', 'cassette.json'], dir, apiEnv(api.url));
    expect(recorded.code, recorded.stderr).toBe(1);
    const first = runJson(dir);
    const cassette = JSON.parse(readFileSync(path.join(dir, 'cassette.json'), 'utf8')) as { version: number; calls: { stage: string; call: number }[] };
    expect(cassette.calls.map((c) => `${c.stage}#${c.call}`)).toEqual(['gen#1', 'gen#2', 'plan#1', 'review#1']);
    expect(readFileSync(path.join(dir, 'cassette.json'), 'utf8')).not.toContain('sk-ant-');

    rmSync(path.join(dir, 'out.txt'));
    const before = api.requests.length;
    // --no-cache: the same run made again from the cassette, not taken from the cache.
    const replayed = await cli(['apply', '--replay', 'cassette.json', '--no-cache'], dir, { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' });
    expect(replayed.code, replayed.stderr).toBe(1);
    expect(api.requests.length).toBe(before);
    const second = runJson(dir);
    for (const s of ['plan', 'gen', 'review']) {
      expect(second.stages[s]!.status, s).toBe(first.stages[s]!.status);
      expect(second.stages[s]!.outputs, s).toEqual(first.stages[s]!.outputs);
      expect(second.stages[s]!.usage, s).toEqual(first.stages[s]!.usage);
    }
    expect(second.stages.review).toMatchObject({ status: 'failed', reason: 'review', outputs: { approved: false, verdict: 'request_changes' } });
    expect(second.cost_usd).toBeCloseTo(first.cost_usd, 9);
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('out');
  });

  test("a plan whose output file cannot be written ends in error with reason write, not retried (the answer is paid for): exit 1", async () => {
    // A folder stands where the file goes.
    const dir = workspace(`${head()}  plan:\n    kind: plan\n    prompt: Plan it.\n    write: docs/PLAN.md\n    retries: 2\n`, { 'docs/PLAN.md/keep': 'a folder, not a file' });
    api.script([{ reply: textMessage('The plan.') }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(1);
    const stage = runJson(dir).stages.plan!;
    expect(stage).toMatchObject({ status: 'error', reason: 'write', attempts: 1, outputs: { text: 'The plan.' } });
    expect(stage.message).toMatch(/^write: .*docs\/PLAN\.md/);
    expect(readFileSync(path.join(dir, 'docs/PLAN.md/keep'), 'utf8')).toBe('a folder, not a file');
  });

  test('a review answered malformed twice ends in error, after telling the model what was wrong', async () => {
    const dir = workspace(`${head()}  review:\n    kind: review\n    diff: false\n    rubric: Good.\n`);
    api.script([{ reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'maybe', score: 3, findings: 'none' } }]) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    const requests = messagesOf(api.requests);
    expect(requests).toHaveLength(2);
    const told = toolResults(requests[1]!);
    expect(told[0]).toMatchObject({ is_error: true });
    expect(told[0]!.content).toContain('"verdict" must be');
    const stage = runJson(dir).stages.review!;
    expect(stage).toMatchObject({ status: 'error', reason: 'review', attempts: 1 });
    expect(stage.message).toContain('malformed twice');
    expect(stage.message).toContain('"score" must be a number from 0 to 1');
  });

  test('a review whose findings trip fail_on is not approved', async () => {
    const dir = workspace(`${head()}  review:\n    kind: review\n    fail_on: major\n`);
    api.script([{ reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.95, findings: [{ severity: 'critical', file: 'a.js', line: 3, message: 'bug' }], summary: 'ok' } }]) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    expect(runJson(dir).stages.review).toMatchObject({ status: 'failed', reason: 'review', outputs: { approved: false, verdict: 'approve', score: 0.95 } });
    expect(bodyText(messagesOf(api.requests)[0]!)).toContain('no file in the workspace changed since the run started');
  });
});

describe('budgets', () => {
  test('a call the budget cannot pay for is refused before it is sent: exit 3, nothing called', async () => {
    const dir = workspace(`${head('concurrency: 1\nbudget:\n  tokens: 100\n')}  big:\n    kind: plan\n    prompt: "${'word '.repeat(200)}"\n  later:\n    kind: plan\n    prompt: Never.\n`);
    api.script([{ reply: textMessage('no') }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(3);
    expect(messagesOf(api.requests)).toHaveLength(0);
    const record = runJson(dir);
    expect(record.stages.big).toMatchObject({ status: 'error', reason: 'budget' });
    expect(record.stages.big!.message).toContain('tokens budget of the run cannot pay');
    expect(record.stages.later?.status).toBe('skipped');
    expect(r.stderr).toMatch(/budget: the tokens budget of the run/);
  });

  test("an agent's calls go through the budget: max_tokens capped to what is left, the next call refused as `budget` (exit 3), never sent", async () => {
    const dir = workspace(`${head()}  gen:\n    kind: generate\n    prompt: Look around.\n    max_tokens: 4096\n    budget: { tokens: 3000 }\n`, { 'README.md': 'hi' });
    api.script([
      { match: (q) => hasToolResult(q), reply: textMessage('Never sent.') },
      { reply: toolUseMessage([{ name: 'list_files', input: {} }], { input_tokens: 2500, output_tokens: 100 }) },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(3);
    const requests = messagesOf(api.requests);
    expect(requests).toHaveLength(1);
    const capped = (requests[0]!.body as { max_tokens: number }).max_tokens;
    expect(capped).toBeGreaterThan(0);
    expect(capped).toBeLessThan(4096);
    const stage = runJson(dir).stages.gen!;
    expect(stage).toMatchObject({ status: 'error', reason: 'budget', attempts: 1, outputs: { turns: 1 } });
    expect(stage.message).toContain('the tokens budget of stage "gen" cannot pay for another model call: 2,600 tokens spent of 3,000 tokens');
  });

  test('a call that exhausts the budget ends its stage in error; later stages never call: exit 3', async () => {
    const dir = workspace(`${head('concurrency: 1\nbudget:\n  cost_usd: 0.001\n')}  first:\n    kind: plan\n    prompt: One.\n  second:\n    kind: plan\n    prompt: Two.\n  third:\n    kind: plan\n    needs: [first]\n    prompt: Three.\n`);
    api.script([{ reply: textMessage('spent', { input_tokens: 400, output_tokens: 100 }) }]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(3);
    expect(messagesOf(api.requests)).toHaveLength(1);
    const record = runJson(dir);
    expect(record.stages.first).toMatchObject({ status: 'error', reason: 'budget' });
    expect(record.stages.first!.message).toBe('the cost_usd budget of the run is exhausted: $0.0018 spent of $0.0010');
    expect(record.stages.second?.status).toBe('skipped');
    expect(record.stages.third?.status).toBe('skipped');
    expect(record.cost_usd).toBeCloseTo(0.0018, 9);
  });

  test('a stage budget caps max_tokens and warns at warn_at', async () => {
    const dir = workspace(`${head()}  plan:\n    kind: plan\n    prompt: Short.\n    budget: { tokens: 1000, warn_at: 0.5 }\n`);
    api.script([{ reply: textMessage('ok', { input_tokens: 500, output_tokens: 100 }) }]);
    const r = await cli(['apply', '--json'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const sent = messagesOf(api.requests)[0]!.body as { max_tokens: number };
    expect(sent.max_tokens).toBe(256);
    const warnings = r.stdout.split('\n').filter((l) => l.includes('"budget_warning"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warnings).toEqual([expect.objectContaining({ stage: 'plan', budget: 'tokens of plan', spent: 600, limit: 1000 })]);
  });
});

describe('checks before any stage starts (exit 2, no stack trace)', () => {
  const plan = `${head()}  plan:\n    kind: plan\n    prompt: Plan.\n`;

  test('a missing key names the variable and suggests the replay provider', async () => {
    const dir = workspace(plan);
    const r = await cli(['apply'], dir, { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: api.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ANTHROPIC_API_KEY is not set');
    expect(r.stderr).toContain('--provider replay');
    expect(r.stderr).not.toContain('    at ');
    expect(existsSync(path.join(dir, '.factory', 'runs'))).toBe(false);
  });

  test('an unknown model suggests the nearest one', async () => {
    const dir = workspace(plan.replace('claude-sonnet-5-5', 'claude-sonet-5-5'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('claude-sonet-5-5');
    expect(r.stderr).toContain('did you mean "claude-sonnet-5-5"');
  });

  test('an unreachable endpoint', async () => {
    const dir = workspace(plan);
    const r = await cli(['apply'], dir, apiEnv('http://127.0.0.1:9'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reach|connect/i);
    expect(r.stderr).not.toContain('    at ');
  });

  test('a missing cassette', async () => {
    const dir = workspace(plan);
    const r = await cli(['apply', '--replay', 'nope.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no such cassette: nope.json');
  });

  test('a cost budget with a model the pricing table does not price', async () => {
    const dir = workspace(plan.replace('claude-sonnet-5-5', 'claude-mythos-preview').replace('defaults:', 'budget:\n  cost_usd: 1\ndefaults:'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"claude-mythos-preview", which the pricing table does not price');
    expect(messagesOf(api.requests)).toHaveLength(0);
  });

  test('an unknown --provider', async () => {
    const dir = workspace(plan);
    const r = await cli(['apply', '--provider', 'replai'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean "replay"');
  });

  test('validate: a model stage with no model anywhere', async () => {
    const dir = workspace('version: 1\nstages:\n  plan:\n    kind: plan\n    prompt: Plan.\n');
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stage "plan" (plan) names no model');
  });
});

describe('factory plan', () => {
  test('shows each model stage\'s worst case against the budget, loops × max_iterations', async () => {
    const dir = workspace(`${head('budget:\n  cost_usd: 0.5\n  tokens: 1M\n')}  plan:\n    kind: plan\n    prompt: "${'x'.repeat(400)}"\n  build:\n    kind: loop\n    needs: [plan]\n    max_iterations: 3\n    until: \${{ stages.review.outputs.approved }}\n    stages:\n      review:\n        kind: review\n`);
    const r = await cli(['plan'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('worst case');
    // plan: (400 chars / 4 = 100 + a few) + 256 output
    expect(r.stdout).toMatch(/plan .*3\d\d tokens · \$0\.00\d+/);
    expect(r.stdout).toContain('(2 calls × 3 iterations)');
    expect(r.stdout).toMatch(/worst case: .* against the budget of 1M tokens \(\d+%\), \$0\.5 \(\d+%\)/);
    const json = JSON.parse((await cli(['plan', '--format', 'json'], dir)).stdout) as { worstCase: { tokens: number; cost_usd: number }; stages: { path: string; worstCase?: { calls: number } }[] };
    expect(json.stages.find((s) => s.path === 'build.review')!.worstCase!.calls).toBe(6);
    expect(json.worstCase.cost_usd).toBeGreaterThan(0);
  });
});
