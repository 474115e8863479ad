import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { events, runInProcess } from '../../support/cli.js';
import { apiEnv, bodyText, messagesOf, runDirOf, runJson, workspace } from '../models/helpers.js';

// Fan-out (section 13) through the CLI's entry function and the fake Messages API: the real SDK
// over HTTP, real files, real commands.

const MODELS = `version: 1
defaults: { max_tokens: 256 }
stages:
  ask:
    kind: plan
    matrix: { model: [claude-sonnet-5-5, claude-haiku-5-5] }
    model: \${{ matrix.model }}
    prompt: Name yourself, \${{ matrix.model }}.
  compare:
    kind: command
    needs: [ask]
    run: echo "$N instances"
    env: { N: "\${{ length(stages.ask.outputs.instances) }}" }
`;

const TODOS = `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
stages:
  triage:
    kind: plan
    prompt: List the todos.
    output_schema:
      type: object
      properties: { todos: { type: array, items: { type: string } } }
      required: [todos]
  todo:
    kind: plan
    needs: [triage]
    for_each: \${{ stages.triage.outputs.json.todos }}
    max_items: 3
    max_parallel: 1
    prompt: "Do todo \${{ each.index }}: \${{ each.item }}"
`;

const FIRST = `version: 1
defaults: { max_tokens: 256 }
stages:
  race:
    kind: plan
    matrix: { model: [claude-sonnet-5-5, claude-haiku-5-5, claude-opus-5-5] }
    model: \${{ matrix.model }}
    join: { wait: first_success }
    prompt: Answer first.
`;

describe('fan-out with models', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test('a matrix over models: one call per model, instances id[n] in records, events and the cassette', async () => {
    api.script([
      { match: { model: 'claude-haiku-5-5' }, reply: textMessage('I am haiku', { input_tokens: 10, output_tokens: 3 }, 'claude-haiku-5-5') },
      { match: { model: 'claude-sonnet-5-5' }, reply: textMessage('I am sonnet', { input_tokens: 10, output_tokens: 3 }) },
    ]);
    const dir = workspace(MODELS);
    const r = await runInProcess(['apply', '--json', '--record', 'fan.cassette.json'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code, r.stderr).toBe(0);
    const sent = messagesOf(api.requests);
    expect(sent.map((s) => (s.body as { model: string }).model).sort()).toEqual(['claude-haiku-5-5', 'claude-sonnet-5-5']);
    expect(sent.map(bodyText).some((t) => t.includes('Name yourself, claude-haiku-5-5.'))).toBe(true);
    const record = runJson(dir);
    expect(record.stages['ask[1]']).toMatchObject({ status: 'succeeded', outputs: { text: 'I am sonnet' } });
    expect(record.stages['ask[2]']).toMatchObject({ status: 'succeeded', outputs: { text: 'I am haiku' } });
    expect(record.stages.ask).toMatchObject({ status: 'succeeded', outputs: { picked: null, instances: [{ index: 1, matrix: { model: 'claude-sonnet-5-5' } }, { index: 2, matrix: { model: 'claude-haiku-5-5' } }] } });
    expect(record.stages.ask!.usage).toMatchObject({ input_tokens: 20, output_tokens: 6 });
    expect(record.stages.compare!.outputs.stdout).toBe('2 instances\n');
    const started = events(r.stdout).filter((e) => e.type === 'stage_started' && e.stage === 'ask[2]');
    expect(started[0]).toMatchObject({ values: 'model=claude-haiku-5-5' });
    const cassette = JSON.parse(readFileSync(path.join(dir, 'fan.cassette.json'), 'utf8')) as { calls: { stage: string }[] };
    expect(cassette.calls.map((c) => c.stage).sort()).toEqual(['ask[1]', 'ask[2]']);
    // Replayed offline, each instance gets its own answer back.
    const again = await runInProcess(['apply', '--replay', 'fan.cassette.json'], dir, { ...process.env });
    expect(again.code, again.stderr).toBe(0);
    expect(runJson(dir).stages['ask[2]']!.outputs.text).toBe('I am haiku');
    // plan prices each instance at its own model.
    const plan = await runInProcess(['plan'], dir, { ...process.env });
    expect(plan.stdout).toContain('× 2 instances');
  });

  test("for_each over a plan's structured answer: one instance per item, each.item and each.index in its prompt", async () => {
    api.script([
      { match: { contains: 'List the todos' }, reply: textMessage('{"todos": ["parse args", "write docs"]}') },
      { reply: (req) => textMessage(`done: ${bodyText(req).includes('parse args') ? 'parse' : 'docs'}`) },
    ]);
    const dir = workspace(TODOS);
    const r = await runInProcess(['apply'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code, r.stderr).toBe(0);
    const prompts = messagesOf(api.requests).map(bodyText);
    expect(prompts.some((t) => t.includes('Do todo 1: parse args'))).toBe(true);
    expect(prompts.some((t) => t.includes('Do todo 2: write docs'))).toBe(true);
    const record = runJson(dir);
    expect(record.stages.todo!.outputs.instances).toEqual([
      { index: 1, item: 'parse args', status: 'succeeded', outputs: { text: 'done: parse' } },
      { index: 2, item: 'write docs', status: 'succeeded', outputs: { text: 'done: docs' } },
    ]);
    expect(r.stderr + r.stdout).toContain('todo[2] item=write docs started');
  });

  test('a list longer than max_items: the stage ends in error (reason for_each) and nothing of it runs', async () => {
    api.script([{ match: { contains: 'List the todos' }, reply: textMessage('{"todos": ["a", "b", "c", "d"]}') }]);
    const dir = workspace(TODOS);
    const r = await runInProcess(['apply'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(1);
    expect(runJson(dir).stages.todo).toMatchObject({ status: 'error', reason: 'for_each', message: 'for_each gave 4 items, more than max_items (3); nothing was run' });
  });

  test("the stage's budget covers all its instances: the second cannot pay, the run exits 3", async () => {
    api.script([{ reply: textMessage('an answer', { input_tokens: 30, output_tokens: 40 }) }]);
    const yaml = MODELS.replace('    prompt: Name yourself', '    max_parallel: 1\n    budget: { tokens: 100 }\n    prompt: Name yourself');
    const dir = workspace(yaml);
    const r = await runInProcess(['apply'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code, r.stderr).toBe(3);
    expect(messagesOf(api.requests)).toHaveLength(1);
    const record = runJson(dir);
    expect(record.stages['ask[2]']).toMatchObject({ status: 'error', reason: 'budget' });
    expect(record.stages['ask[2]']!.message).toContain('stage "ask"');
    expect(record.stages.ask).toMatchObject({ status: 'error', reason: 'budget' });
  });

  test("a review inside an isolated instance reviews that instance's changes, in its copy", async () => {
    api.script([{ reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [], summary: 'Fine.' } }]) }]);
    const yaml = `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
stages:
  attempt:
    kind: loop
    matrix: { approach: [alpha, beta] }
    isolate: true
    max_iterations: 1
    stages:
      make:
        kind: command
        run: printf '%s\\n' "$A" > "made-$A.txt"
        env: { A: "\${{ matrix.approach }}" }
      check:
        kind: review
        needs: [make]
        rubric: Good.
`;
    const dir = workspace(yaml);
    const r = await runInProcess(['apply'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code, r.stderr).toBe(0);
    const reviews = messagesOf(api.requests).map(bodyText);
    expect(reviews).toHaveLength(2);
    const alpha = reviews.find((b) => b.includes('made-alpha.txt'))!;
    expect(alpha).toBeDefined();
    expect(alpha).not.toContain('made-beta.txt');
    expect(existsSync(path.join(dir, 'made-alpha.txt')) && existsSync(path.join(dir, 'made-beta.txt'))).toBe(true);
  });

  test('first_success: once one instance succeeds the others are cancelled (reason joined) and their calls aborted', async () => {
    api.script([
      { match: { model: 'claude-haiku-5-5' }, reply: { ...textMessage('fast', { input_tokens: 10, output_tokens: 2 }, 'claude-haiku-5-5'), latencyMs: 100 } },
      // The others stream a start (spending input tokens), then hang until the client goes.
      { reply: { stall: true, start: { input_tokens: 40 } } },
    ]);
    const dir = workspace(FIRST);
    const r = await runInProcess(['apply'], dir, { ...process.env, ...apiEnv(api.url) });
    expect(r.code, r.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.race).toMatchObject({ status: 'succeeded', outputs: { picked: 2, text: 'fast' } });
    for (const id of ['race[1]', 'race[3]']) expect(record.stages[id]).toMatchObject({ status: 'cancelled', reason: 'joined' });
    // At most one call per model: the cancelled ones were aborted (or never made), not retried.
    const models = messagesOf(api.requests).map((m) => (m.body as { model: string }).model);
    expect(models.filter((m) => m === 'claude-haiku-5-5')).toHaveLength(1);
    expect(new Set(models).size).toBe(models.length);
  });
});

const ISOLATED = (join: string) => `version: 1
stages:
  attempt:
    kind: command
    matrix: { approach: [minimal, rewrite] }
    isolate: true
${join}    run: printf '%s\\n' "$A" > result.txt && printf '%s\\n' "$A" > "only-$A.txt"
    env: { A: "\${{ matrix.approach }}" }
`;

describe('isolated instances', () => {
  test('two instances changing one file differently: error with reason conflict, no file written', async () => {
    const dir = workspace(ISOLATED(''), { 'result.txt': 'before\n' });
    const r = await runInProcess(['apply'], dir, { ...process.env });
    expect(r.code).toBe(1);
    const record = runJson(dir);
    expect(record.stages.attempt).toMatchObject({ status: 'error', reason: 'conflict' });
    expect(record.stages.attempt!.message).toContain('result.txt');
    expect(readFileSync(path.join(dir, 'result.txt'), 'utf8')).toBe('before\n');
    expect(existsSync(path.join(dir, 'only-minimal.txt'))).toBe(false);
    // Each instance's patch is kept in the record, in the format of section 11.
    const patch = JSON.parse(readFileSync(path.join(runDirOf(dir), 'instances', 'attempt[2].patch'), 'utf8')) as { format: string; changes: { path: string }[] };
    expect(patch.format).toBe('factory-patch');
    expect(patch.changes.map((c) => c.path)).toEqual(['only-rewrite.txt', 'result.txt']);
    // The copies are gone once the run ends.
    expect(readdirSync(path.join(dir, '.factory', 'work'))).toEqual([]);
  });

  test("the picked instance's changes only are applied; --keep-work keeps the copies", async () => {
    const dir = workspace(ISOLATED("    join: { pick: \"${{ instance.matrix.approach == 'rewrite' }}\" }\n"), { 'result.txt': 'before\n' });
    const r = await runInProcess(['apply', '--keep-work'], dir, { ...process.env });
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.attempt).toMatchObject({ status: 'succeeded', outputs: { picked: 2 } });
    expect(readFileSync(path.join(dir, 'result.txt'), 'utf8')).toBe('rewrite\n');
    expect(existsSync(path.join(dir, 'only-rewrite.txt'))).toBe(true);
    expect(existsSync(path.join(dir, 'only-minimal.txt'))).toBe(false);
    const graph = await runInProcess(['graph'], dir, { ...process.env });
    expect(graph.stdout).toContain('attempt<br/><small>command, matrix ×2</small>');
    const show = await runInProcess(['show', 'latest', 'attempt[2]'], dir, { ...process.env });
    expect(show.stdout).toContain('stage attempt[2]');
    const work = path.join(dir, '.factory', 'work', path.basename(runDirOf(dir)));
    expect(readdirSync(work).sort()).toEqual(['attempt[1]', 'attempt[2]']);
    expect(readFileSync(path.join(work, 'attempt[1]', 'result.txt'), 'utf8')).toBe('minimal\n');
  });
});

describe('--resume', () => {
  test('keeps the instances that succeeded and runs the others again', async () => {
    const yaml = `version: 1
stages:
  attempt:
    kind: command
    matrix: { n: [1, 2] }
    run: echo "run $N" >> runs.log && test "$N" = 1 -o -f fixed
    env: { N: "\${{ matrix.n }}" }
`;
    const dir = workspace(yaml);
    const first = await runInProcess(['apply'], dir, { ...process.env });
    expect(first.code).toBe(1);
    expect(runJson(dir).stages.attempt).toMatchObject({ status: 'failed', message: expect.stringContaining('1 of 2 instances succeeded') });
    writeFileSync(path.join(dir, 'fixed'), '');
    const again = await runInProcess(['apply', '--resume'], dir, { ...process.env });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['run 1', 'run 2', 'run 2']);
    expect(runJson(dir).stages.attempt).toMatchObject({ status: 'succeeded', outputs: { instances: [{ index: 1, status: 'succeeded' }, { index: 2, status: 'succeeded' }] } });
  });
});

describe('the cache', () => {
  test('each instance has its own fingerprint; the stage is cached when all its instances are', async () => {
    const yaml = `version: 1
stages:
  attempt:
    kind: command
    matrix: { n: [1, 2] }
    inputs: []
    run: echo "run $N" >> runs.log
    env: { N: "\${{ matrix.n }}" }
`;
    const dir = workspace(yaml);
    expect((await runInProcess(['apply'], dir, { ...process.env })).code).toBe(0);
    expect((await runInProcess(['apply'], dir, { ...process.env })).code).toBe(0);
    const record = runJson(dir);
    expect([record.stages.attempt!.cached, record.stages['attempt[1]']!.cached, record.stages['attempt[2]']!.cached]).toEqual([true, true, true]);
    expect(record.stages['attempt[1]']!.fingerprint).not.toBe(record.stages['attempt[2]']!.fingerprint);
    expect(readFileSync(path.join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['run 1', 'run 2']);
  });
});
