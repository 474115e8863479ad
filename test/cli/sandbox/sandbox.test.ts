import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { cli, requireBuild, runBuilt } from '../../support/cli.js';
import { apiEnv, hasToolResult, messagesOf, runDirOf, runJson, toolResults, workspace } from '../models/helpers.js';
import { loopbackServer, machine, pathWithoutBubblewrap, PROBE, SECRET, type Machine } from './helpers.js';

/**
 * The sandbox, end to end through the built CLI on this machine's bubblewrap (.ci/run installs
 * it): what a confined program cannot do, what the same program does unconfined, and what
 * `sandbox: {network, writes}` opens. Each test is one `factory apply` of several stages.
 */
beforeAll(requireBuild);

let m: Machine;
let server: Awaited<ReturnType<typeof loopbackServer>>;
beforeEach(async () => {
  m = machine();
  server = await loopbackServer();
});
afterEach(async () => {
  await server.close();
});

const stage = (id: string, body: string) => `  ${id}:\n    kind: command\n${body}`;

describe('sandboxed command stages', () => {
  test('writes outside the workspace, ~/.ssh and a loopback connection are closed; unsandboxed they work; allowed ones open', async () => {
    const blocked = path.join(m.outside, 'blocked.txt');
    const free = path.join(m.outside, 'free.txt');
    const allowed = path.join(m.outside, 'allowed', 'ok.txt');
    const yaml = [
      'version: 1',
      'sandbox: true',
      'stages:',
      stage('inside', '    run: echo in > inside.txt && echo tmp > "$TMPDIR/t" && cat inside.txt "$TMPDIR/t"\n'),
      stage('write_out', `    run: echo x > ${blocked}\n`),
      stage('read_ssh', '    run: cat "$HOME/.ssh/id_ed25519"\n'),
      stage('connect', `    run: [node, probe.mjs, direct, "${server.port}"]\n`),
      stage('proxy_closed', `    run: [node, probe.mjs, proxy, "${server.port}"]\n`),
      stage('unsandboxed', `    sandbox: false\n    run: echo x > ${free} && cat "$HOME/.ssh/id_ed25519" && node probe.mjs direct ${server.port}\n`),
      stage('opened', `    sandbox: { network: ["127.0.0.1"], writes: ["${path.dirname(allowed)}"] }\n    run: echo ok > ${allowed} && node probe.mjs proxy ${server.port}\n`),
    ].join('\n');
    const dir = workspace(yaml, { 'probe.mjs': PROBE });
    const r = await cli(['apply'], dir, { HOME: m.home });
    expect(r.code, r.stderr).toBe(1);
    const stages = runJson(dir).stages;

    expect(stages.inside, JSON.stringify(stages.inside)).toMatchObject({ status: 'succeeded', outputs: { stdout: 'in\ntmp\n' } });
    expect(readFileSync(path.join(dir, 'inside.txt'), 'utf8')).toBe('in\n');

    expect(stages.write_out).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(stages.write_out!.message).toMatch(/Read-only file system.*it ran in the sandbox: writes only to the workspace, its temp folder; no network/);
    expect(existsSync(blocked)).toBe(false);

    expect(stages.read_ssh).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(stages.read_ssh!.message).toMatch(/id_ed25519: No such file or directory.*~\/\.ssh and other credential folders unreadable/);
    expect(JSON.stringify(stages.read_ssh)).not.toContain(SECRET);

    expect(stages.connect).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(stages.connect!.message).toMatch(/connection failed: connect ECONNREFUSED 127\.0\.0\.1.*no network/);
    expect(stages.proxy_closed!.message).toMatch(/refused: HTTP 403.*no network/);

    // The same three, unsandboxed, succeed: the loopback server saw one request from them.
    expect(stages.unsandboxed, JSON.stringify(stages.unsandboxed)).toMatchObject({ status: 'succeeded' });
    expect(stages.unsandboxed!.outputs.stdout).toBe(`${SECRET}\nhello from loopback\n`);
    expect(readFileSync(free, 'utf8')).toBe('x\n');

    // writes and network open exactly what they list.
    expect(stages.opened, JSON.stringify(stages.opened)).toMatchObject({ status: 'succeeded', outputs: { stdout: 'hello from loopback\n' } });
    expect(readFileSync(allowed, 'utf8')).toBe('ok\n');
    expect(server.hits()).toBe(2);
  });

  test('a machine without bubblewrap: each sandboxed stage ends in error/sandbox naming what to install, and nothing runs', async () => {
    const marker = path.join(m.outside, 'ran.txt');
    const yaml = [
      'version: 1',
      'sandbox: true',
      'defaults:\n  model: claude-sonnet-5-5\n  retries: 0',
      'stages:',
      stage('cmd', `    run: echo ran > ${marker}\n`),
      '  gen:\n    kind: generate\n    prompt: Run it.\n    commands: ["touch *"]\n',
      '  check:\n    kind: scenario-validate\n    scenarios: scenarios/*.yaml\n',
    ].join('\n');
    const dir = workspace(yaml, { 'scenarios/a.yaml': `name: a\nsteps:\n  - run: echo ran > ${marker}\n` });
    const api = await startFakeAnthropic();
    try {
      const r = await cli(['apply'], dir, { ...apiEnv(api.url), HOME: m.home, PATH: pathWithoutBubblewrap() });
      expect(r.code, r.stderr).toBe(1);
      const stages = runJson(dir).stages;
      for (const id of ['cmd', 'gen', 'check']) {
        expect(stages[id], id).toMatchObject({ status: 'error', reason: 'sandbox' });
        expect(stages[id]!.message).toMatch(/bubblewrap \(bwrap\) not installed.*apt-get install bubblewrap socat ripgrep/);
      }
      expect(existsSync(marker)).toBe(false);
      expect(messagesOf(api.requests)).toHaveLength(0);
    } finally {
      await api.close();
    }
  });
});

describe('the agent and scenario steps are confined the same way', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test("run_command, a scenario step and an external agent cannot write outside, read ~/.ssh or connect; the record says why", async () => {
    const outsideFile = path.join(m.outside, 'agent.txt');
    const externalFile = path.join(m.outside, 'external.txt');
    const stepFile = path.join(m.outside, 'step.txt');
    const yaml = [
      'version: 1',
      'sandbox: true',
      'defaults:\n  model: claude-sonnet-5-5\n  max_tokens: 256',
      'stages:',
      `  gen:\n    kind: generate\n    prompt: Try.\n    commands: ["touch *", "cat *", "node *"]\n`,
      `  external:\n    kind: generate\n    needs: [gen]\n    if: \${{ always() }}\n    prompt: Escape.\n    agent:\n      run: [sh, -c, 'cat "$HOME/.ssh/id_ed25519" || echo x > ${externalFile}']\n`,
      `  check:\n    kind: scenario-validate\n    needs: [gen]\n    if: \${{ always() }}\n    feedback: full\n    scenarios: scenarios/*.yaml\n`,
    ].join('\n');
    const scenario = [
      'name: escapes',
      'steps:',
      `  - run: echo x > ${stepFile}`,
      '    expect: { exit_code: 0 }',
      '  - run: cat "$HOME/.ssh/id_ed25519"',
      '    expect: { exit_code: 0 }',
      `  - run: [node, probe.mjs, direct, "${server.port}"]`,
      '    expect: { exit_code: 0 }',
      '  - run: echo in > in-workspace.txt',
      '    expect: { exit_code: 0, file_exists: in-workspace.txt }',
    ].join('\n');
    const dir = workspace(yaml, { 'probe.mjs': PROBE, 'scenarios/escapes.yaml': scenario });
    api.script([
      { match: (q) => hasToolResult(q), reply: textMessage('Done.') },
      {
        reply: toolUseMessage([
          { name: 'run_command', input: { command: `touch ${outsideFile}` } },
          { name: 'run_command', input: { command: `cat ${path.join(m.home, '.ssh', 'id_ed25519')}` } },
          { name: 'run_command', input: { command: `node probe.mjs direct ${server.port}` } },
          { name: 'run_command', input: { command: 'touch made-by-agent.txt' } },
        ]),
      },
    ]);
    const r = await cli(['apply'], dir, { ...apiEnv(api.url), HOME: m.home });
    expect(r.code, r.stderr).toBe(1);

    const [touch, cat, connect, inside] = toolResults(messagesOf(api.requests)[1]!);
    expect(touch!.content).toMatch(/exit code 1[\s\S]*Read-only file system/);
    expect(cat!.content).toMatch(/exit code 1[\s\S]*No such file or directory/);
    expect(cat!.content).not.toContain(SECRET);
    expect(connect!.content).toMatch(/exit code 1[\s\S]*connection failed: connect ECONNREFUSED/);
    expect(inside!.content).toMatch(/^exit code 0/);
    expect(existsSync(outsideFile)).toBe(false);
    expect(existsSync(path.join(dir, 'made-by-agent.txt'))).toBe(true);

    const external = runJson(dir).stages.external!;
    expect(external).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(existsSync(externalFile)).toBe(false);
    const externalErr = readFileSync(path.join(runDirOf(dir), 'stages', 'external.stderr'), 'utf8');
    expect(externalErr).toMatch(/No such file or directory[\s\S]*Read-only file system/);

    const check = runJson(dir).stages.check!;
    expect(check).toMatchObject({ status: 'failed', reason: 'threshold' });
    const saved = JSON.parse(readFileSync(path.join(runDirOf(dir), 'stages', 'check.scenarios.json'), 'utf8')) as { scenarios: { runs: { steps: { stderr: string; exit_code: number | null }[] }[] }[] };
    const steps = saved.scenarios[0]!.runs[0]!.steps;
    expect(steps.map((s) => s.exit_code)).toEqual([2, 1, 1, 0]);
    expect(steps[0]!.stderr).toMatch(/Read-only file system/);
    expect(steps[1]!.stderr).toMatch(/No such file or directory/);
    expect(steps[2]!.stderr).toMatch(/connection failed/);
    expect(existsSync(stepFile)).toBe(false);
    expect(server.hits()).toBe(0);
  });
});

describe('bad sandbox config', () => {
  test('a writes path outside the machine\'s reach is a config error at its line (exit 2)', () => {
    const dir = workspace(['version: 1', 'sandbox:', '  writes: [/proc/factory-test]', 'stages:', stage('a', '    sandbox: { writes: [factory.yaml/inside] }\n    run: "true"\n')].join('\n'));
    const r = runBuilt(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:3:12.*sandbox writes "\/proc\/factory-test": \/proc\/factory-test is in \/proc/);
    expect(r.stderr).toMatch(/factory\.yaml:7:25.*sandbox writes "factory.yaml\/inside": .* is a file, not a folder/);
    expect(r.stderr).toContain('list a folder this user can write');
  });

  test('an unknown sandbox key is a schema error', () => {
    const dir = workspace(['version: 1', 'sandbox: { net: [a.com] }', 'stages:', stage('a', '    run: "true"\n')].join('\n'));
    const r = runBuilt(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:2/);
  });
});
