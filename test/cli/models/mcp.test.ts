import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic, type RecordedRequest } from '../../support/fake-anthropic.js';
import { apiEnv, hasToolResult, messagesOf, runDirOf, runJson, toolResults, workspace } from './helpers.js';
import { BIN, cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const node = JSON.stringify(process.execPath);
const pkg = (rel: string) => JSON.stringify(fileURLToPath(new URL(`../../../node_modules/${rel}`, import.meta.url)));
const MEMORY = pkg('@modelcontextprotocol/server-memory/dist/index.js');
const EVERYTHING = pkg('@modelcontextprotocol/server-everything/dist/index.js');
const FAULTY = JSON.stringify(fileURLToPath(new URL('../../support/mcp-faulty-server.mjs', import.meta.url)));

function pipeline(servers: string, tools: string, extra = ''): string {
  return `version: 1
defaults:
  model: claude-sonnet-5-5
  max_tokens: 1024
  retries: 0
mcp_servers:
${servers}
stages:
  gen:
    kind: generate
    prompt: Use the tools.
    tools: ${tools}
${extra}`;
}

const toolNamesOf = (r: RecordedRequest) => ((r.body as { tools?: { name: string }[] }).tools ?? []).map((t) => t.name);

/** Whether a process is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function transcriptOf(dir: string): Record<string, unknown>[] {
  const stages = path.join(runDirOf(dir), 'stages');
  const file = readdirSync(stages).find((f) => f.endsWith('.transcript.jsonl'))!;
  return readFileSync(path.join(stages, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('MCP servers from the registry, over stdio', () => {
  test('server-memory: the agent creates an entity and reads the graph back; calls in the transcript, stderr in the record', async () => {
    const dir = workspace(pipeline(`  memory:\n    command: [${node}, ${MEMORY}]\n    env: { MEMORY_FILE_PATH: "\${WORKSPACE}/memory.jsonl" }`, '[mcp:memory]'));
    api.script([
      { match: (r) => hasToolResult(r) && JSON.stringify(r.body).includes('read_graph') && toolResults(r).some((t) => t.content.includes('"Ada"')) && JSON.stringify(r.body).split('tool_result').length > 2, reply: textMessage('Ada is in the graph.') },
      { match: (r) => hasToolResult(r), reply: toolUseMessage([{ name: 'memory__read_graph', input: {} }]) },
      { match: { tool: 'memory__create_entities' }, reply: toolUseMessage([{ name: 'memory__create_entities', input: { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] } }]) },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'succeeded', outputs: { summary: 'Ada is in the graph.', turns: 3 } });

    const requests = messagesOf(api.requests);
    expect(toolNamesOf(requests[0]!)).toEqual(expect.arrayContaining(['memory__create_entities', 'memory__read_graph', 'memory__search_nodes']));
    const create = (requests[0]!.body as { tools: { name: string; input_schema: { properties: Record<string, unknown> } }[] }).tools.find((t) => t.name === 'memory__create_entities')!;
    expect(Object.keys(create.input_schema.properties)).toEqual(['entities']);
    expect(toolResults(requests[2]!)[0]!.content).toContain('wrote the first program');
    // the server wrote its file where its env and cwd said
    expect(readFileSync(path.join(dir, 'memory.jsonl'), 'utf8')).toContain('Ada');

    const transcript = transcriptOf(dir);
    expect(transcript.find((e) => e.type === 'tool_call' && e.name === 'memory__create_entities')).toBeDefined();
    expect(transcript.find((e) => e.type === 'tool_result' && e.name === 'memory__read_graph' && String(e.content).includes('Ada'))).toBeDefined();
    expect(readFileSync(path.join(runDirOf(dir), 'mcp', 'memory.stderr.log'), 'utf8')).toMatch(/Knowledge Graph MCP Server running on stdio/);
  }, 60_000);

  test('server-everything: one tool picked with mcp:NAME/TOOL; a call the server refuses is a tool error counted by max_tool_errors', async () => {
    const dir = workspace(pipeline(`  everything:\n    command: [${node}, ${EVERYTHING}, stdio]`, '[read_file, mcp:everything/get-sum]', '    max_tool_errors: 1\n'));
    api.script([
      { match: (r) => toolResults(r).some((t) => t.is_error === true), reply: toolUseMessage([{ name: 'everything__get-sum', input: { a: 'two' } }]) },
      { match: (r) => hasToolResult(r), reply: toolUseMessage([{ name: 'everything__get-sum', input: {} }]) },
      { reply: toolUseMessage([{ name: 'everything__get-sum', input: { a: 2, b: 3 } }]) },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    const requests = messagesOf(api.requests);
    expect(toolNamesOf(requests[0]!)).toEqual(['read_file', 'everything__get-sum']);
    expect(toolResults(requests[1]!)[0]).toMatchObject({ content: expect.stringContaining('5') });
    expect(toolResults(requests[1]!)[0]!.is_error).toBeUndefined();
    expect(toolResults(requests[2]!)[0]).toMatchObject({ is_error: true, content: expect.stringMatching(/Input validation error|invalid/i) });
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'tool_errors' });
  }, 60_000);
});

describe('MCP faults: a clear message, the right status, nothing left running', () => {
  test('a server command that does not exist is an error of the stage naming the server and the command', async () => {
    const dir = workspace(pipeline(`  ghost:\n    command: [definitely-not-a-command-7f3a]`, '[mcp:ghost]'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    const gen = runJson(dir).stages.gen!;
    expect(gen).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(gen.message).toMatch(/MCP server "ghost" could not be started: the command "definitely-not-a-command-7f3a" was not found/);
    expect(messagesOf(api.requests)).toHaveLength(0);
  }, 30_000);

  test('a server that exits at start: the message carries the end of its stderr, secrets redacted', async () => {
    const dir = workspace(pipeline(`  db:\n    command: [${node}, ${FAULTY}, exit-at-start]\n    env: { FAULTY_ECHO: "token \${DB_TOKEN}" }`, '[mcp:db]'));
    const r = await cli(['apply'], dir, apiEnv(api.url, { DB_TOKEN: 'tok-db-9f8e7d6c' }));
    expect(r.code).toBe(1);
    const gen = runJson(dir).stages.gen!;
    expect(gen).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(gen.message).toMatch(/MCP server "db" could not be started: .*(exited|closed)/);
    expect(gen.message).toContain('cannot open the database');
    const log = readFileSync(path.join(runDirOf(dir), 'mcp', 'db.stderr.log'), 'utf8');
    expect(log).toContain('cannot open the database');
    // the token given to the server through ${DB_TOKEN} reached it, and neither the record nor the message
    expect(log).toContain('echo: token [redacted]');
    expect(JSON.stringify(runJson(dir))).not.toContain('tok-db-9f8e7d6c');
    expect(r.stderr).not.toContain('tok-db-9f8e7d6c');
  }, 30_000);

  test('a server that hangs on initialize times out (startup_timeout) and is killed, even though it ignores SIGTERM', async () => {
    const dir = workspace(pipeline(`  slow:\n    command: [${node}, ${FAULTY}, hang-init]\n    env: { FAULTY_PID_FILE: pid }\n    startup_timeout: 1s`, '[mcp:slow]'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    const gen = runJson(dir).stages.gen!;
    expect(gen).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(gen.message).toMatch(/MCP server "slow" could not be started: no answer to `initialize` within 1s/);
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(alive(pid)).toBe(false);
  }, 30_000);

  test('a malformed result and a server that dies mid-call are tool errors the model sees', async () => {
    const servers = `  bad:\n    command: [${node}, ${FAULTY}, malformed]\n  dies:\n    command: [${node}, ${FAULTY}, die-mid-call]\n    env: { FAULTY_PID_FILE: pid }`;
    const dir = workspace(pipeline(servers, '[mcp:bad, mcp:dies]'));
    api.script([
      { match: (r) => toolResults(r).length > 0, reply: textMessage('Both failed.') },
      { reply: toolUseMessage([{ name: 'bad__boom', input: { say: 'hi' } }, { name: 'dies__boom', input: { say: 'hi' } }]) },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const [bad, dies] = toolResults(messagesOf(api.requests)[1]!);
    expect(bad).toMatchObject({ is_error: true, content: expect.stringMatching(/MCP server "bad", tool "boom": the server's answer is malformed: content/) });
    expect(dies).toMatchObject({ is_error: true, content: expect.stringMatching(/MCP server "dies", tool "boom": .*(exited|closed)/) });
    expect(dies!.content).toContain('segmentation fault (simulated)');
    expect(alive(Number(readFileSync(path.join(dir, 'pid'), 'utf8')))).toBe(false);
  }, 30_000);

  test('two tools under one name (server a with tool b__c, server a__b with tool c) are refused before the first call', async () => {
    const servers = `  a:\n    command: [${node}, ${FAULTY}, ok]\n    env: { FAULTY_TOOLS: b__c }\n  a__b:\n    command: [${node}, ${FAULTY}, ok]\n    env: { FAULTY_TOOLS: c }`;
    const dir = workspace(pipeline(servers, '[read_file, mcp:a, mcp:a__b]'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(2);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'config', message: expect.stringContaining('two tools named "a__b__c"') });
    expect(messagesOf(api.requests)).toHaveLength(0);
  }, 30_000);

  test('mcp:NAME/TOOL naming a tool the server lacks lists the tools it has', async () => {
    const dir = workspace(pipeline(`  f:\n    command: [${node}, ${FAULTY}, ok]`, '[mcp:f/bom]'));
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(2);
    expect(runJson(dir).stages.gen).toMatchObject({ status: 'error', reason: 'config', message: expect.stringContaining('MCP server "f" has no tool "bom"; its tools are boom') });
  }, 30_000);

  test('mcp:NAME with no such server: file:line:col, did-you-mean, exit 2, before anything starts', async () => {
    const dir = workspace(pipeline(`  memory:\n    command: [${node}, ${MEMORY}]`, '[read_file, mcp:memroy]'));
    for (const cmd of [['validate'], ['apply']]) {
      const r = await cli(cmd, dir, apiEnv(api.url));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('factory.yaml:13:24');
      expect(r.stderr).toContain('uses the MCP server "memroy", which mcp_servers does not define (did you mean "memory"?)');
    }
    expect(existsSync(path.join(dir, '.factory', 'runs'))).toBe(false);
  }, 30_000);

  test('a server with both command and url, and a stage with MCP tools beside held-out scenarios, are reported by validate', async () => {
    const yaml = pipeline(`  both:\n    command: [x]\n    url: http://127.0.0.1:1/mcp\n  mem:\n    command: [x]`, '[mcp:mem]', `  check:\n    kind: scenario-validate\n    scenarios: scenarios/*.yaml\n`);
    const dir = workspace(yaml, { 'scenarios/a.yaml': 'name: a\nsteps:\n  - run: "true"\n' });
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:7:3 error {2}MCP server "both" has both `command` and `url`/);
    expect(r.stderr).toMatch(/warning {2}stage "gen" uses the MCP server "mem", which runs outside the agent's path confinement/);
    expect(r.stderr).toContain('holdout_safe: true');
  });

  test('Ctrl-C while the agent waits for the model: exit 130 and the server is stopped', async () => {
    const dir = workspace(pipeline(`  f:\n    command: [${node}, ${FAULTY}, ok]\n    env: { FAULTY_PID_FILE: pid }`, '[mcp:f]'));
    api.script([{ reply: { stall: true } }]);
    const child = spawn(process.execPath, [BIN, 'apply'], { cwd: dir, env: { ...process.env, NO_COLOR: '1', CI: '1', ...apiEnv(api.url) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const pidFile = path.join(dir, 'pid');
    while (!(existsSync(pidFile) && messagesOf(api.requests).length > 0)) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(130);
    expect(alive(pid)).toBe(false);
  }, 30_000);
});
