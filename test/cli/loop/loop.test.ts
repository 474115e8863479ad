import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic, type RecordedRequest } from '../../support/fake-anthropic.js';
import { hasToolResult, isJudge, posts, runJson, workspace } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

/** Strings only the scenario file holds: none may reach a prompt but the judge's. */
const HOLDOUT = ['Hello, Ada!', 'greet.sh Ada', 'RUBRIC-7f3a'];

const scenario = `name: greets politely
description: Says hello to the person named, with an exclamation mark.
steps:
  - run: sh greet.sh Ada
    expect: { exit_code: 0, stdout_contains: "Hello, Ada!" }
judge:
  rubric: RUBRIC-7f3a The greeting is friendly.
`;

function factory(feedback: string, extra = '', loopExtra = ''): string {
  return `version: 1
name: greet
defaults: { provider: anthropic, model: claude-sonnet-5-5, max_tokens: 512, retries: 0 }
${extra}stages:
  build:
    kind: loop
    max_iterations: 3
    until: \${{ stages.validate.outputs.passed }}
${loopExtra}    stages:
      generate:
        kind: generate
        prompt: |
          Write greet.sh, a shell script that greets the person named in its first argument.
          Feedback from the previous attempt: \${{ loop.previous.validate.outputs.feedback }}
        max_turns: 4
      validate:
        kind: scenario-validate
        needs: [generate]
        scenarios: scenarios/*.yaml
        feedback: ${feedback}
`;
}

/** The agent writes a wrong greeting unless its prompt names the failed scenario (feedback reached it). */
function scriptAgent(usage = { input_tokens: 40, output_tokens: 20 }): void {
  api.script([
    { match: isJudge, reply: toolUseMessage([{ name: 'submit_score', input: { score: 0.9, reason: 'friendly' } }], { input_tokens: 100, output_tokens: 10 }) },
    { match: hasToolResult, reply: textMessage('Wrote greet.sh.', usage) },
    { match: { contains: 'greets politely' }, reply: () => toolUseMessage([{ name: 'write_file', input: { path: 'greet.sh', content: 'echo "Hello, $1!"\n' } }], usage) },
    { reply: () => toolUseMessage([{ name: 'write_file', input: { path: 'greet.sh', content: 'echo "Hi $1"\n' } }], usage) },
  ]);
}

const env = () => ({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: api.url });
const generateRequests = () => posts(api.requests).filter((r) => !isJudge(r));
const text = (r: RecordedRequest) => JSON.stringify(r.body);

describe('loop with held-out scenarios, through the built CLI', () => {
  test('converges in the 2nd iteration with the feedback in its request; the holdout reaches only the judge', async () => {
    const dir = workspace({ 'factory.yaml': factory('names'), 'scenarios/greet.yaml': scenario });
    scriptAgent();
    const r = await cli(['apply'], dir, env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout + r.stderr).toContain('iteration 2/3');
    const record = runJson(dir);
    expect(record.stages.build).toMatchObject({ status: 'succeeded', outputs: { iterations: 2, converged: true } });
    expect(record.stages.build!.iterations!.map((i) => i.stages['build.validate']!.status)).toEqual(['failed', 'succeeded']);
    expect(record.stages.build!.outputs.stages).toMatchObject({ validate: { status: 'succeeded', outputs: { satisfaction: 1 } } });
    // the loop's usage holds its body's, and run.json's totals hold the loop's
    expect(record.usage.input_tokens).toBe(record.stages.build!.usage.input_tokens);
    expect(record.usage.input_tokens).toBe(4 * 40 + 100);

    const gen = generateRequests();
    const firstOfIteration = gen.filter((r) => !hasToolResult(r));
    expect(firstOfIteration).toHaveLength(2);
    expect(text(firstOfIteration[0]!)).not.toContain('greets politely');
    expect(text(firstOfIteration[1]!)).toContain('greets politely: Says hello to the person named, with an exclamation mark.');
    for (const req of gen) for (const secret of HOLDOUT) expect(text(req)).not.toContain(secret);
    const judges = posts(api.requests).filter(isJudge);
    expect(judges).toHaveLength(1);
    expect(text(judges[0]!)).toContain('RUBRIC-7f3a');
    expect(text(judges[0]!)).toContain('Hello, Ada!');

    // factory show lists the iterations, and a body stage by its dotted path
    const shown = await cli(['show', 'latest', 'build'], dir);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/iterations\n\s+#\s+stage\s+status\s+satisfaction\s+tokens\s+cost\s+duration\n\s+1\s+generate\s+succeeded\s.*\n\s+validate\s+failed \(threshold\)\s+\d\.\d\d\s.*\n\s+2\s+generate\s+succeeded\s.*\n\s+validate\s+succeeded\s+1\.00\s/);
    const body = await cli(['show', 'latest', 'build.validate', '--iteration', '1'], dir);
    expect(body.code, body.stderr).toBe(0);
    expect(body.stdout).toContain('stage build.validate (iteration 1)');
    expect(body.stdout).toContain('status    failed (threshold)');
    const last = await cli(['show', 'latest', 'build.validate'], dir);
    expect(last.stdout).toContain('(iteration 2)');
    const missing = await cli(['show', 'latest', 'build.validate', '--iteration', '7'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('iterations: 1, 2');
  });

  test('feedback full puts the failed command and expectation in the next prompt', async () => {
    const dir = workspace({ 'factory.yaml': factory('full'), 'scenarios/greet.yaml': scenario });
    scriptAgent();
    const r = await cli(['apply'], dir, env());
    expect(r.code, r.stderr).toBe(0);
    const second = generateRequests().filter((q) => !hasToolResult(q))[1]!;
    expect(text(second)).toContain('greet.sh Ada');
    expect(text(second)).toContain('expected stdout_contains');
    expect(text(second)).toContain('Hello, Ada!');
    expect(text(second)).toContain('Hi Ada');
  });

  test('feedback none: no name reaches the prompt, the loop does not converge: exit 1, failed, not_converged', async () => {
    const dir = workspace({ 'factory.yaml': factory('none'), 'scenarios/greet.yaml': scenario });
    scriptAgent();
    const r = await cli(['apply'], dir, env());
    expect(r.code).toBe(1);
    const record = runJson(dir);
    expect(record.status).toBe('failed');
    expect(record.stages.build).toMatchObject({ status: 'failed', reason: 'not_converged', outputs: { iterations: 3, converged: false } });
    const firsts = generateRequests().filter((q) => !hasToolResult(q));
    expect(firsts).toHaveLength(3);
    expect(text(firsts[1]!)).toContain('satisfaction 0.00');
    for (const req of generateRequests()) {
      expect(text(req)).not.toContain('greets politely');
      for (const secret of HOLDOUT) expect(text(req)).not.toContain(secret);
    }
  });

  test("the loop's budget runs out mid-iteration: exit 3, the record shows the iteration", async () => {
    // each generate call charges 800 tokens (its prompt is estimated at ~800): iteration 1 spends
    // 1600, iteration 2's first call 800 more, and its second call cannot be paid
    const dir = workspace({ 'factory.yaml': factory('none', '', '    budget: { tokens: 3000 }\n'), 'scenarios/greet.yaml': scenario });
    scriptAgent({ input_tokens: 700, output_tokens: 100 });
    const r = await cli(['apply'], dir, env());
    expect(r.code, r.stderr + r.stdout).toBe(3);
    const build = runJson(dir).stages.build!;
    expect(build).toMatchObject({ status: 'error', reason: 'budget' });
    expect(build.message).toContain('iteration 2');
    expect(build.iterations).toHaveLength(2);
    expect(build.iterations![1]!.stages['build.generate']).toMatchObject({ status: 'error', reason: 'budget' });
    expect(build.iterations![1]!.stages['build.validate']!.status).toBe('skipped');
  });

  test('validate: a loop without max_iterations, an until reading outside the body, a scenario glob matching nothing', async () => {
    const noMax = workspace({ 'factory.yaml': factory('names').replace('    max_iterations: 3\n', ''), 'scenarios/greet.yaml': scenario });
    const a = await cli(['validate'], noMax);
    expect(a.code).toBe(2);
    expect(a.stderr + a.stdout).toContain('max_iterations');

    const outside = workspace({
      'factory.yaml': factory('names').replace('until: ${{ stages.validate.outputs.passed }}', 'until: ${{ stages.lint.outputs.exit_code == 0 }}').replace('stages:\n  build:', 'stages:\n  lint:\n    kind: command\n    run: "true"\n  build:'),
      'scenarios/greet.yaml': scenario,
    });
    const b = await cli(['validate'], outside);
    expect(b.code).toBe(2);
    expect(b.stderr + b.stdout).toMatch(/stage "lint" is not upstream/);

    const empty = workspace({ 'factory.yaml': factory('names') });
    const c = await cli(['validate'], empty);
    expect(c.code).toBe(2);
    expect(c.stderr + c.stdout).toMatch(/factory\.yaml:\d+:\d+.*"scenarios\/\*\.yaml".*matches no file/);
  });
});

export { readFileSync, path };
