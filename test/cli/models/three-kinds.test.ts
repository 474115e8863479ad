import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, bodyText, filesUnder, hasToolResult, KEY, messagesOf, runDirOf, runJson, toolResults, workspace } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const SECRET_SCENARIO = 'HOLDOUT-SECRET-7f3a: node cli.js 1994 prints MCMXCIV';

const PIPELINE = `version: 1
name: three-kinds
defaults:
  model: claude-sonnet-5-5
  max_tokens: 1024
budget:
  cost_usd: 5
stages:
  plan:
    kind: plan
    system: You plan small changes.
    prompt: Write a one-line plan for a greeting module.
    context: ["SPEC.md", "scenarios/*.yaml"]
    write: PLAN.md
  generate:
    kind: generate
    needs: [plan]
    prompt: "Implement this plan: \${{ stages.plan.outputs.text }}"
    context: ["SPEC.md"]
    writes: ["src/**"]
  review:
    kind: review
    needs: [generate]
    rubric: Matches the spec.
    context: ["SPEC.md"]
  validate:
    kind: scenario-validate
    needs: [review]
    if: \${{ false }}
    scenarios: scenarios/*.yaml
`;

const FILES = {
  'SPEC.md': '# Greeting\nExport hello() returning "hello".\n',
  'scenarios/roman.yaml': `name: converts 1994\ndescription: '${SECRET_SCENARIO}'\nsteps:\n  - run: node cli.js 1994\n    expect: { exit_code: 0, stdout_contains: MCMXCIV }\n`,
  '.env': 'SECRET=shh\n',
};

function script(): void {
  api.script([
    { match: { tool: 'submit_review' }, reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [{ severity: 'info', file: 'src/hello.js', line: 1, message: 'fine' }], summary: 'Looks right.' } }], { input_tokens: 900, output_tokens: 60, cache_creation_input_tokens: 400 }) },
    { match: (r) => JSON.stringify(r.body).includes('write_file') && hasToolResult(r), reply: textMessage('Wrote src/hello.js.', { input_tokens: 1200, output_tokens: 20, cache_read_input_tokens: 800 }) },
    {
      match: { tool: 'write_file' },
      reply: toolUseMessage(
        [
          { name: 'read_file', input: { path: 'scenarios/roman.yaml' } },
          { name: 'write_file', input: { path: 'src/hello.js', content: 'export const hello = () => "hello";\n' } },
        ],
        { input_tokens: 1000, output_tokens: 80, cache_creation_input_tokens: 700 },
      ),
    },
    { match: { contains: 'one-line plan' }, reply: textMessage('Add src/hello.js exporting hello().', { input_tokens: 300, output_tokens: 12 }) },
  ]);
}

describe('plan → generate → review through the built CLI', () => {
  test('runs end to end with outputs, usage, cost, prompts and transcripts; the holdout and the key stay out', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    const r = await cli(['apply'], dir, apiEnv(api.url, { MY_SECRET_TOKEN: 'tok-abcdef-123456' }));
    expect(r.stderr).not.toContain('    at ');
    expect(r.code, r.stderr).toBe(0);

    const record = runJson(dir);
    expect(record.status).toBe('succeeded');
    expect(record.stages.plan).toMatchObject({ status: 'succeeded', outputs: { text: 'Add src/hello.js exporting hello().' } });
    expect(record.stages.generate).toMatchObject({ status: 'succeeded', outputs: { summary: 'Wrote src/hello.js.', files_changed: ['src/hello.js'], turns: 2 } });
    expect(record.stages.review).toMatchObject({ status: 'succeeded', outputs: { verdict: 'approve', approved: true, score: 0.9 } });
    expect(record.stages.validate?.status).toBe('skipped');
    expect(readFileSync(path.join(dir, 'src/hello.js'), 'utf8')).toContain('hello');
    expect(readFileSync(path.join(dir, 'PLAN.md'), 'utf8')).toBe('Add src/hello.js exporting hello().\n');

    // usage and cost per stage and in total
    expect(record.stages.plan!.usage).toEqual({ input_tokens: 300, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(record.stages.generate!.usage.cache_read_input_tokens).toBe(800);
    expect(record.stages.plan!.cost_usd).toBeCloseTo((300 * 2 + 12 * 10) / 1e6, 9);
    const total = record.stages.plan!.cost_usd + record.stages.generate!.cost_usd + record.stages.review!.cost_usd;
    expect(record.cost_usd).toBeCloseTo(total, 6);
    expect(record.usage.input_tokens).toBe(300 + 1000 + 1200 + 900);

    // the summary shows tokens and dollars
    expect(r.stderr).toMatch(/tokens/);
    expect(r.stderr).toMatch(/\$0\.\d{4}/);

    // the review saw the diff of the run: the plan and the generated file, never the holdout
    const requests = messagesOf(api.requests);
    expect(requests).toHaveLength(4);
    const review = requests.find((q) => bodyText(q).includes('submit_review'))!;
    expect((review.body as { tool_choice: unknown }).tool_choice).toEqual({ type: 'tool', name: 'submit_review' });
    expect(bodyText(review)).toContain('+++ b/src/hello.js');
    expect(bodyText(review)).toContain('+++ b/PLAN.md');
    // context files go under their paths, the instruction last
    const plan = requests[0]!.body as { messages: { content: { text: string }[] }[] };
    expect(plan.messages[0]!.content[0]!.text).toMatch(/^<file path="SPEC.md">/);
    expect(plan.messages[0]!.content.at(-1)!.text).toContain('one-line plan');

    // the agent's attempt to read the holdout came back as a tool error
    const second = requests.find((q) => hasToolResult(q))!;
    const results = toolResults(second);
    expect(results[0]).toMatchObject({ is_error: true });
    expect(results[1]?.is_error).toBeUndefined();

    // holdout text never in any request body; .env neither
    for (const q of api.requests) {
      expect(bodyText(q)).not.toContain('HOLDOUT-SECRET-7f3a');
      expect(bodyText(q)).not.toContain('SECRET=shh');
    }
    expect(r.stderr).toContain('scenarios/roman.yaml is not sent to the model');

    // records: prompt and transcript per model stage, beside run.json
    const stages = path.join(runDirOf(dir), 'stages');
    for (const s of ['plan', 'generate', 'review']) {
      expect(existsSync(path.join(stages, `${s}.prompt.md`)), s).toBe(true);
      expect(existsSync(path.join(stages, `${s}.transcript.jsonl`)), s).toBe(true);
    }
    const transcript = readFileSync(path.join(stages, 'generate.transcript.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(transcript.map((e) => e.type)).toEqual(['attempt', 'request', 'response', 'tool_call', 'tool_result', 'tool_call', 'tool_result', 'request', 'response']);

    // the key (and env secrets) never in a record or in the output
    for (const f of filesUnder(path.join(dir, '.factory'))) {
      expect(f.text, f.file).not.toContain(KEY);
      expect(f.text, f.file).not.toContain('tok-abcdef-123456');
    }
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  test('--json shows model_call events with usage and cost', async () => {
    const dir = workspace(PIPELINE, FILES);
    script();
    const r = await cli(['apply', '--json'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string; model?: string; cost_usd?: number });
    const calls = events.filter((e) => e.type === 'model_call');
    expect(calls.map((e) => e.stage)).toEqual(['plan', 'generate', 'generate', 'review']);
    expect(calls[0]).toMatchObject({ model: 'claude-sonnet-5-5' });
    expect(calls.every((c) => (c.cost_usd ?? 0) > 0)).toBe(true);
  });
});
