import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { COMMAND, identityEnv, workspace } from './helpers.js';
import { cli, requireBuild, type Running, start } from '../../support/cli.js';

beforeAll(requireBuild);

const PIPELINE = `version: 1
stages:
  build:
    kind: command
    run: echo built
  gate:
    kind: approve
    needs: [build]
  deploy:
    kind: command
    needs: [gate]
    run: echo deployed
`;

/** Every refusal exits 2 with one line that says why; nothing is answered. */
describe('factory approve refuses what it cannot answer (exit 2)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let run: Running;
  let id: string;

  beforeAll(async () => {
    dir = workspace(PIPELINE);
    env = identityEnv(dir);
    run = start(['apply'], dir, env);
    id = (await run.waitFor(COMMAND))[1]!;
  });
  afterAll(async () => {
    run.kill('SIGINT');
    await run.done;
  });

  const refused = async (args: string[], message: string | RegExp, cwd = dir) => {
    const r = await cli(['approve', ...args], cwd, env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    if (typeof message === 'string') expect(r.stderr).toContain(message);
    else expect(r.stderr).toMatch(message);
  };

  test('an unknown run, with the nearest run id suggested', async () => {
    const typo = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
    await refused([typo, 'gate'], `factory approve: run "${typo}" has no record in ${dir}/.factory/runs (did you mean "${id}"?); latest: ${id}`);
  });

  test('a folder without runs', async () => {
    await refused(['latest', 'gate'], /no runs in .*\.factory\/runs yet/, tempWorkspace());
  });

  test('an unknown stage, with the nearest suggested', async () => {
    await refused([id, 'gaet'], `run ${id} has no stage "gaet" waiting, and none of that name has started (did you mean "gate"?); waiting now: gate`);
  });

  test('a stage that is not waiting (it finished)', async () => {
    await refused([id, 'build'], `stage "build" of run ${id} is not waiting for an answer: it already succeeded; waiting now: gate`);
  });

  test('a stage that has not started', async () => {
    await refused([id, 'deploy'], `run ${id} has no stage "deploy" waiting, and none of that name has started`);
  });

  test('a second answer: the first one stands', async () => {
    const first = await cli(['approve', 'latest', 'gate', '--reject', '--comment', 'first'], dir, env);
    expect(first.code, first.stderr).toBe(0);
    await refused(['latest', 'gate'], new RegExp(`"gate" of run ${id} was answered already: rejected by \\S+ at \\S+ \\(first\\)`));
    const done = await run.done;
    expect(done.code).toBe(1);
    // After the run ended, the same.
    await refused([id, 'gate'], 'was answered already: rejected');
  });

  test('a run that is not running any more', async () => {
    const other = workspace(PIPELINE);
    const r = start(['apply'], other, env);
    const otherId = (await r.waitFor(COMMAND))[1]!;
    r.kill('SIGKILL');
    await r.done;
    await refused([otherId, 'gate'], `run ${otherId} is not running any more: it stopped while "gate" waited; resume it with \`factory apply --resume=${otherId}\` and answer again`, other);
  });
});
