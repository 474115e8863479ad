import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { requireBuild, runInProcess, start } from '../../support/cli.js';

const PIPELINE = `version: 1
name: cli-demo
params:
  word: { type: string, default: hello }
stages:
  greet:
    kind: command
    run: echo "$WORD"; echo to-stderr >&2
    env:
      WORD: \${{ params.word }}
  check:
    kind: command
    needs: [greet]
    run: exit 3
`;

function workspace(text = PIPELINE): string {
  const dir = tempWorkspace();
  writeFileSync(path.join(dir, 'factory.yaml'), text);
  return dir;
}

/** In-process, with this process's environment: the commands the runs start need PATH. */
const runCli = (args: string[], cwd: string) => runInProcess(args, cwd, { ...process.env, FACTORY_RETRY_BASE_MS: '5', CI: '1' });

describe('factory apply options', () => {
  test.each(['--resume', '--run-id=r1'])('--watch with %s is refused: every rerun is a new run (exit 2)', async (flag) => {
    const dir = workspace();
    const r = await runCli(['apply', '--watch', flag], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--watch starts a new run at every change; it cannot be combined with --resume or --run-id');
    expect(existsSync(path.join(dir, '.factory'))).toBe(false);
  });

  test('--approve naming no approve stage is refused before anything runs (exit 2)', async () => {
    const dir = workspace();
    const r = await runCli(['apply', '--approve=a'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--approve: there is no stage "a"; the pipeline has no approve stage');
    expect(existsSync(path.join(dir, '.factory'))).toBe(false);
  });

  test('an invalid pipeline prints diagnostics and exits 2 without running', async () => {
    const dir = workspace('version: 1\nstages:\n  a:\n    kind: command\n    run: true\n    needs: [nope]\n');
    const r = await runCli(['apply'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not exist');
  });

  test('--set, --only, --json and the exit code of a failed pipeline', async () => {
    const dir = workspace();
    const r = await runCli(['apply', '--json', '--set', 'word=bonjour', '--only', 'greet'], dir);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; chunk?: string });
    expect(events[0]!.type).toBe('run_started');
    expect(events.at(-1)!.type).toBe('run_finished');
    expect(events.find((e) => e.type === 'stage_output')!.chunk).toBe('bonjour\n');
    const failed = await runCli(['apply', '--quiet'], dir);
    expect(failed.code).toBe(1);
    const unknown = await runCli(['apply', '--only', 'gret'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean "greet"?');
  });

  test('--resume DIR resumes in that directory; --concurrency is accepted', async () => {
    const dir = workspace();
    const parent = path.dirname(dir);
    const first = await runCli(['apply', dir, '--quiet', '--run-id', 'one'], parent);
    expect(first.code).toBe(1);
    const again = await runCli(['apply', '--resume', dir, '--quiet', '--concurrency', '2'], parent);
    expect(again.code).toBe(1);
    const runs = await runCli(['runs', dir, '--json'], parent);
    expect(JSON.parse(runs.stdout).map((r: { id: string }) => r.id)).toEqual(['one']);
  });
});

describe('factory runs and show', () => {
  test('runs lists past runs; show prints a run and a stage with its output files', async () => {
    const dir = workspace();
    expect((await runCli(['runs'], dir)).stdout).toContain('no runs yet');
    await runCli(['apply', '--quiet', '--run-id', 'first-run'], dir);
    const runs = await runCli(['runs'], dir);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/^run\s+status\s+started\s+duration\s+stages/);
    expect(runs.stdout).toMatch(/first-run\s+failed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\S+\s+1 ok, 1 failed/);

    const show = await runCli(['show', 'latest'], dir);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('run first-run  cli-demo');
    expect(show.stdout).toMatch(/check\s+failed\s+exit_code/);

    const stage = await runCli(['show', 'first-run', 'greet', '--dir', dir], path.dirname(dir));
    expect(stage.code).toBe(0);
    expect(stage.stdout).toContain('status    succeeded');
    expect(stage.stdout).toMatch(/stdout\s+.*first-run\/stages\/greet\.stdout/);
    expect(stage.stdout).toMatch(/stderr\s+.*greet\.stderr/);
    expect(stage.stdout).toContain('  stdout: hello');

    const json = await runCli(['show', 'latest', 'check', '--json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ path: 'check', status: 'failed', reason: 'exit_code', outputs: { exit_code: 3 } });

    const noRun = await runCli(['show', 'frist-run'], dir);
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toContain('did you mean "first-run"?');
    const noStage = await runCli(['show', 'latest', 'gret'], dir);
    expect(noStage.code).toBe(2);
    expect(noStage.stderr).toContain('did you mean "greet"?');
  });
});

describe('examples/build-and-test', () => {
  beforeAll(requireBuild);
  test('runs green through the built CLI', async () => {
    const source = fileURLToPath(new URL('../../../examples/build-and-test', import.meta.url));
    const dir = tempWorkspace();
    cpSync(source, dir, { recursive: true, filter: (src) => !/(\.factory|dist)$/.test(src) });
    mkdirSync(path.join(dir, '.factory'), { recursive: true });
    const cli = start(['apply', '.', '--quiet'], dir);
    const exit = await cli.done;
    expect(exit.code, cli.stderr()).toBe(0);
  });
});

describe('a wide pipeline (the built CLI)', () => {
  test('twenty stages ready at once run without a warning from Node (one abort listener per waiting stage is not a leak)', async () => {
    const dir = tempWorkspace('factory-wide-');
    const stages = Array.from({ length: 20 }, (_, i) => `  s${i}: { kind: command, run: ["true"] }`).join('\n');
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1\nconcurrency: 2\nstages:\n${stages}\n`);
    const cliRun = start(['apply'], dir);
    const end = await cliRun.done;
    expect(end.code, cliRun.stderr()).toBe(0);
    expect(cliRun.stderr()).not.toContain('Warning');
  });
});
