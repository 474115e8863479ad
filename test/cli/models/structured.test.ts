import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { cli, requireBuild } from '../../support/cli.js';
import { apiEnv, messagesOf, runJson, workspace } from './helpers.js';

beforeAll(requireBuild);

// Structured answers (docs/models-and-budgets.md): a plan's answer checked against its
// output_schema whatever the provider says, corrected once, then `error` with reason output.
const ROUTE = `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 1024 }
stages:
  triage:
    kind: plan
    prompt: Decide.
    output_schema:
      type: object
      properties:
        route: { enum: [fix, ship] }
        why: { type: string }
      required: [route]
      additionalProperties: false
  fixing:
    kind: command
    needs: [triage]
    if: \${{ stages.triage.outputs.json.route == 'fix' }}
    run: echo fixing
`;

describe('a plan with an output schema', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test('asks for structured output, and its json routes the pipeline', async () => {
    api.script([{ reply: textMessage('{"route": "fix", "why": "a test fails"}') }]);
    const dir = workspace(ROUTE);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const sent = messagesOf(api.requests);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toMatchObject({ output_config: { format: { type: 'json_schema', schema: { type: 'object', required: ['route'] } } } });
    const record = runJson(dir);
    expect(record.stages.triage!.outputs).toMatchObject({ json: { route: 'fix', why: 'a test fails' }, text: '{"route": "fix", "why": "a test fails"}' });
    expect(record.stages.fixing!.status).toBe('succeeded');
  });

  test('an answer in a Markdown fence is read from inside it', async () => {
    api.script([{ reply: textMessage('```json\n{"route": "ship"}\n```') }]);
    const dir = workspace(ROUTE);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.triage!.outputs.json).toEqual({ route: 'ship' });
    expect(runJson(dir).stages.fixing!.status).toBe('skipped');
  });

  test('a wrong answer is sent back once with what is wrong; corrected, it passes (two calls charged)', async () => {
    api.script([
      { match: (req) => JSON.stringify(req.body).includes('does not match the required output schema'), reply: textMessage('{"route": "ship"}', { input_tokens: 30, output_tokens: 7 }) },
      { reply: textMessage('{"route": "maybe"}', { input_tokens: 20, output_tokens: 6 }) },
    ]);
    const dir = workspace(ROUTE);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const sent = messagesOf(api.requests);
    expect(sent).toHaveLength(2);
    const correction = JSON.stringify(sent[1]!.body);
    expect(correction).toContain('/route must be equal to one of the allowed values');
    expect(correction).toContain('{\\"route\\": \\"maybe\\"}');
    const record = runJson(dir);
    expect(record.stages.triage).toMatchObject({ status: 'succeeded', outputs: { json: { route: 'ship' } } });
    expect(record.stages.triage!.usage).toMatchObject({ input_tokens: 50, output_tokens: 13 });
  });

  test('an answer that fails its schema twice: error with reason output, nothing after it runs', async () => {
    api.script([{ reply: textMessage('not json at all') }]);
    const dir = workspace(ROUTE);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(2);
    const record = runJson(dir);
    expect(record.stages.triage).toMatchObject({ status: 'error', reason: 'output', outputs: { text: 'not json at all' } });
    expect(record.stages.triage!.message).toMatch(/does not match the output schema, also after one correction: the answer is not JSON/);
    expect(record.stages.fixing!.status).toBe('skipped');
  });

  test('output_schema_file: the schema from a YAML file beside factory.yaml', async () => {
    api.script([{ reply: textMessage('{"items": ["a", "b"]}') }]);
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  todos: { kind: plan, prompt: List., output_schema_file: schemas/todos.yaml }
`, { 'schemas/todos.yaml': 'type: object\nproperties:\n  items: { type: array, items: { type: string } }\nrequired: [items]\n' });
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.todos!.outputs.json).toEqual({ items: ['a', 'b'] });
  });
});

describe('bad output schemas, at their line (exit 2)', () => {
  test('not a valid JSON Schema', async () => {
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  a:
    kind: plan
    prompt: hi
    output_schema: { type: objekt }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:7:5');
    expect(r.stderr).toContain('the output schema of stage "a" is not a valid JSON Schema');
  });

  test('both output_schema and output_schema_file; a file that does not exist', async () => {
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  a: { kind: plan, prompt: hi, output_schema: {type: object}, output_schema_file: s.json }
  b: { kind: plan, prompt: hi, output_schema_file: missing.json }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stage "a" has both `output_schema` and `output_schema_file`');
    expect(r.stderr).toMatch(/factory\.yaml:5:\d+ error {2}output_schema_file of stage "b": .*missing\.json/);
  });
});
