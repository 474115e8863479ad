import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, requireBuild } from '../../support/cli.js';
import { startFakeCollector, type FakeCollector, type ReceivedSpan } from '../../support/fake-otlp.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { latestRunDir, latestRunJson } from '../../support/workspace-files.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../../examples/plan-generate-review', import.meta.url));
const PARENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN = 'b7ad6b7169203331';
const JSON_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/**
 * The offline example (plan → generate with two tool calls → review, from its cassette), with a
 * loop of one command that prints its TRACEPARENT, and a command that fails: the run ends 1.
 */
function workspace(): string {
  const dir = tempWorkspace('factory-otel-');
  cpSync(EXAMPLE, dir, { recursive: true });
  const yaml = readFileSync(path.join(dir, 'factory.yaml'), 'utf8');
  writeFileSync(
    path.join(dir, 'factory.yaml'),
    `${yaml}
  tidy:
    kind: generate
    needs: [review]
    prompt: Print the trace context.
    tools: [run_command]
    commands: [printenv TRACEPARENT]
    writes: [notes/**]
    max_turns: 3
  twice:
    kind: loop
    needs: [tidy]
    max_iterations: 2
    until: \${{ loop.iteration >= 2 }}
    stages:
      show:
        kind: command
        run: 'echo "TP=$TRACEPARENT"'
  broken:
    kind: command
    needs: [twice]
    run: 'echo failing >&2; exit 3'
`,
  );
  // tidy's two answers: run_command, then the end of its turn.
  const cassette = JSON.parse(readFileSync(path.join(dir, 'cassette.json'), 'utf8')) as { calls: unknown[] };
  const answer = (call: number, content: unknown[], stop: string) => ({
    stage: 'tidy',
    iteration: 0,
    call,
    response: { id: `msg_tidy${call}`, type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content, stop_reason: stop, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } },
  });
  cassette.calls.push(answer(1, [{ type: 'tool_use', id: 'toolu_tidy1', name: 'run_command', input: { command: 'printenv TRACEPARENT' } }], 'tool_use'), answer(2, [{ type: 'text', text: 'Done.' }], 'end_turn'));
  writeFileSync(path.join(dir, 'cassette.json'), JSON.stringify(cassette));
  return dir;
}

const byName = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReceivedSpan[], name: string) => {
  const found = byName(spans, name);
  expect(found.map((s) => s.name), `one span named "${name}"`).toEqual([name]);
  return found[0]!;
};

describe.concurrent('apply exports one trace per run over OTLP/HTTP', () => {
  let collector: FakeCollector;
  beforeAll(async () => {
    collector = await startFakeCollector();
  });
  afterAll(() => collector.close());

  test('the span tree, its names, attributes and times; TRACEPARENT in and out; the run ends as it would', async () => {
    const dir = workspace();
    const r = await cli(['apply'], dir, {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=factory%20ops',
      OTEL_SERVICE_NAME: 'factory-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci',
      TRACEPARENT: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toContain('warning');
    // One trace, CI's: the run is the child of the TRACEPARENT it was given. Sent as protobuf, with the headers asked for.
    await collector.until((all) => all.some((s) => s.traceId === PARENT_TRACE && s.name.startsWith('run ')));
    const spans = collector.spans.filter((s) => s.traceId === PARENT_TRACE);
    expect(spans).toHaveLength(1 + 8 + 7 + 3 + 4);
    const sent = collector.requests.filter((q) => q.contentType === 'application/x-protobuf');
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((q) => q.headers['x-team'] === 'factory ops')).toBe(true);
    const run = one(spans, 'run plan-generate-review');
    expect(run.parentSpanId).toBe(PARENT_SPAN);
    expect(run.resource).toMatchObject({ 'service.name': 'factory-test', 'deployment.environment': 'ci' });
    expect(run.attributes).toMatchObject({ 'factory.pipeline.name': 'plan-generate-review', 'factory.run.status': 'failed', 'factory.run.exit_code': 1 });
    expect(run.status.code).toBe(2);

    // Stages under the run, a loop's body under the loop, with their attributes.
    const stage = (p: string) => one(spans, `stage ${p}`);
    for (const p of ['plan', 'generate', 'review', 'tidy', 'twice', 'broken']) expect(stage(p).parentSpanId, p).toBe(run.spanId);
    expect(stage('generate').attributes).toMatchObject({ 'factory.stage.path': 'generate', 'factory.stage.kind': 'generate', 'factory.stage.status': 'succeeded', 'factory.stage.cached': false });
    expect(stage('broken').attributes).toMatchObject({ 'factory.stage.status': 'failed', 'factory.stage.reason': 'exit_code' });
    expect(stage('broken').status).toMatchObject({ code: 2 });
    const shows = byName(spans, 'stage twice.show').sort((a, b) => a.start - b.start);
    expect(shows.map((s) => s.attributes['factory.stage.iteration'])).toEqual([1, 2]);
    expect(shows.every((s) => s.parentSpanId === stage('twice').spanId)).toBe(true);

    // Model calls in the GenAI conventions, under their stage.
    const chats = spans.filter((s) => s.name === 'chat claude-sonnet-5-5');
    expect(chats).toHaveLength(7);
    expect(chats.filter((s) => s.parentSpanId === stage('generate').spanId)).toHaveLength(3);
    const first = chats.find((s) => s.parentSpanId === stage('plan').spanId)!;
    expect(first.kind).toBe(3);
    expect(first.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'replay',
      'gen_ai.request.model': 'claude-sonnet-5-5',
      'gen_ai.response.model': 'claude-sonnet-5-5',
      'gen_ai.usage.input_tokens': 187,
      'gen_ai.usage.output_tokens': 64,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'gen_ai.usage.cache_read.input_tokens': 0,
    });
    expect(first.attributes['factory.cost_usd']).toBeGreaterThan(0);

    // Tool calls under generate.
    const tools = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((s) => [s.name, s.parentSpanId === stage(s.name.endsWith('run_command') ? 'tidy' : 'generate').spanId, s.status.code])).toEqual([
      ['execute_tool list_files', true, 0],
      ['execute_tool write_file', true, 0],
      ['execute_tool run_command', true, 0],
    ]);
    expect(one(spans, 'execute_tool run_command').attributes['gen_ai.tool.call.id']).toBe('toolu_tidy1');
    // run_command's program: under its stage, and it printed the TRACEPARENT of its own span.
    const printenv = one(spans, 'run_command printenv');
    expect([printenv.parentSpanId, printenv.attributes['process.exit.code']]).toEqual([stage('tidy').spanId, 0]);
    const transcript = readFileSync(path.join(latestRunDir(dir), 'stages', 'tidy.transcript.jsonl'), 'utf8');
    expect(transcript).toContain(`00-${PARENT_TRACE}-${printenv.spanId}-01`);

    // Processes: each command's span is the one its TRACEPARENT names, under its stage.
    const processes = spans.filter((s) => s.attributes['factory.process.role'] === 'command');
    expect(processes).toHaveLength(3);
    const printed = (latestRunJson(dir).stages.twice!.iterations ?? []).map((it) => /TP=(\S*)/.exec(String(it.stages['twice.show']?.outputs?.stdout))?.[1]);
    expect(printed).toHaveLength(2);
    for (const [i, show] of shows.entries()) {
      const proc = processes.find((p) => p.parentSpanId === show.spanId)!;
      expect(proc.name).toBe('command sh');
      expect(printed[i]).toBe(`00-${PARENT_TRACE}-${proc.spanId}-01`);
      expect(proc.attributes['process.exit.code']).toBe(0);
    }
    const failed = processes.find((p) => p.parentSpanId === stage('broken').spanId)!;
    expect(failed.attributes['process.exit.code']).toBe(3);
    expect(failed.status.code).toBe(2);

    // Real times: every span within its parent's, and the stages in the order they ran.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const s of spans) {
      expect(s.end, s.name).toBeGreaterThanOrEqual(s.start);
      const parent = byId.get(s.parentSpanId);
      if (parent) expect([s.start >= parent.start - 1, s.end <= parent.end + 1], `${s.name} within ${parent.name}`).toEqual([true, true]);
    }
    expect(stage('plan').end).toBeLessThanOrEqual(stage('generate').start + 1);
    expect(stage('review').end).toBeLessThanOrEqual(stage('broken').start + 1);
  });

  test('a collector that is down costs one warning at the end, never the exit code; without export, validate and apply never load the SDK (nor listr2 nor a vendor SDK off a terminal)', async () => {
    // Two workspaces: two runs at once in one would meet its lock.
    const yaml = 'version: 1\nname: down\nstages:\n  ok:\n    kind: command\n    run: echo "TP=$TRACEPARENT"\n  broken:\n    kind: command\n    needs: [ok]\n    run: "exit 3"\n';
    const dir = tempWorkspace('factory-otel-down-');
    const other = tempWorkspace('factory-otel-plain-');
    for (const d of [dir, other]) writeFileSync(path.join(d, 'factory.yaml'), yaml);
    const json = tempWorkspace('factory-otel-json-');
    writeFileSync(path.join(json, 'factory.yaml'), yaml);
    const port = await freePort();
    const [down, validate, plain, sentJson] = await Promise.all([
      cli(['apply', '--otel', '--run-id', 'down'], dir, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`, ...watchLoads(dir, 'down') }),
      cli(['validate'], other, watchLoads(other, 'validate')),
      // A TRACEPARENT alone (a CI's) is passed on to the commands as it is, and exports nothing.
      cli(['apply', '--quiet', '--only', 'ok', '--run-id', 'plain'], other, { TRACEPARENT: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`, ...watchLoads(other, 'plain') }),
      // OTLP JSON, the http exporter's own encoding.
      cli(['apply', '--quiet'], json, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', TRACEPARENT: `00-${JSON_TRACE}-${PARENT_SPAN}-01` }),
    ]);
    expect(sentJson.code, sentJson.stderr).toBe(1);
    expect(sentJson.stderr).not.toContain('warning');
    await collector.until((all) => all.some((s) => s.traceId === JSON_TRACE && s.name === 'run down'));
    const jsonSpans = collector.spans.filter((s) => s.traceId === JSON_TRACE);
    expect(jsonSpans.map((s) => s.name).sort()).toEqual(['command sh', 'command sh', 'run down', 'stage broken', 'stage ok']);
    expect(collector.requests.some((q) => q.contentType.startsWith('application/json'))).toBe(true);
    expect(down.code, down.stderr).toBe(1);
    const warnings = down.stderr.split('\n').filter((l) => l.includes('warning'));
    // Refused at once; on a machine so loaded that the refusal takes longer than the wait, the wait is what is told.
    const why = `(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}|no answer within 1000 ms)`;
    expect(warnings, down.stderr).toEqual([expect.stringMatching(new RegExp(`^factory apply: warning: the run's trace could not be exported to http://127\\.0\\.0\\.1:${port}/v1/traces: ${why} \\(the run itself is not affected\\)$`))]);
    expect([validate.code, plain.code], validate.stderr + plain.stderr).toEqual([0, 0]);
    // The SDK loaded where the run exports (so the check sees it), nowhere else.
    expect(loads(dir, 'down')).toBeGreaterThan(0);
    expect([loads(other, 'validate'), loads(other, 'plain')]).toEqual([0, 0]);
    // Nor the live tree's listr2 (not on a terminal), nor a vendor's SDK (a run of commands only).
    expect([othersLoaded(other, 'validate'), othersLoaded(other, 'plain')]).toEqual([[], []]);
    // Exporting, the command got a span of the run's own new trace; not exporting, the CI's TRACEPARENT as it was.
    const printed = (d: string, run: string) => (JSON.parse(readFileSync(path.join(d, '.factory/runs', run, 'run.json'), 'utf8')) as { stages: { ok: { outputs: { stdout: string } } } }).stages.ok.outputs.stdout;
    expect(printed(dir, 'down')).toMatch(/^TP=00-[0-9a-f]{32}-[0-9a-f]{16}-01\n$/);
    expect(printed(other, 'plain')).toBe(`TP=00-${PARENT_TRACE}-${PARENT_SPAN}-01\n`);
  });
});

const PRELOAD = fileURLToPath(new URL('../../support/otel-loaded.cjs', import.meta.url));

/** The environment that makes the CLI tell how many @opentelemetry modules it loaded (test/support/otel-loaded.cjs). */
function watchLoads(dir: string, name: string): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--require ${PRELOAD}`, FACTORY_TEST_OTEL_LOADED: path.join(dir, `${name}.loaded.json`) };
}

function othersLoaded(dir: string, name: string): string[] {
  return (JSON.parse(readFileSync(path.join(dir, `${name}.loaded.json`), 'utf8')) as { others: string[] }).others;
}

function loads(dir: string, name: string): number {
  return (JSON.parse(readFileSync(path.join(dir, `${name}.loaded.json`), 'utf8')) as { loaded: number }).loaded;
}

/** A port nothing listens on: taken, then given back. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
