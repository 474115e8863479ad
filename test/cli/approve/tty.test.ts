import { beforeAll, describe, expect, test } from 'vitest';
import { identityEnv, ISO, runJson, workspace } from './helpers.js';
import { HAS_SCRIPT, requireBuild, startPty } from '../../support/cli.js';

beforeAll(requireBuild);

/** A review's findings as an approve stage shows them, then the gate, then what it guards. */
const PIPELINE = `version: 1
name: tty-gate
stages:
  review:
    kind: command
    run: 'printf "%s" "[{\\"severity\\":\\"major\\",\\"file\\":\\"src/a.js\\",\\"line\\":3,\\"message\\":\\"unchecked input\\"}]"'
    parse: json
  gate:
    kind: approve
    needs: [review]
    message: Ship the change?
    show: ["\${{ stages.review.outputs.json }}", "\${{ length(stages.review.outputs.json) }}"]
  deploy:
    kind: command
    needs: [gate]
    run: echo deployed
`;

describe.skipIf(!HAS_SCRIPT)('approve on a terminal (through a real pseudo-terminal)', () => {
  test('the question, its values as a table and the keys appear inside the live tree; a comment, then `a`, approves', async () => {
    const dir = workspace(PIPELINE);
    const run = startPty(['apply'], dir, identityEnv(dir, 'Grace Hopper'));
    await run.waitFor(/\[a\] approve {2}\[r\] reject {2}\[c\] comment/);
    const screen = run.output();
    // The live tree (listr2), not plain lines: the spinner frame and the stage's own output lines.
    expect(screen).toMatch(/gate {2}waiting for your answer/);
    expect(screen).toContain('? Ship the change?');
    expect(screen).toMatch(/stages\.review\.outputs\.json:\s*\r?\n\s+severity\s+file\s+line\s+message\s*\r?\n\s+major\s+src\/a\.js\s+3\s+unchecked input/);
    expect(screen).toContain('length(stages.review.outputs.json): 1');
    expect(screen).toMatch(/or from another shell: factory approve \S+ gate/);

    run.write('c');
    await run.waitFor(/comment › /);
    run.write('ship it');
    await run.waitFor(/comment › ship it/);
    run.write('\r');
    await run.waitFor(/comment: ship it/);
    run.write('a');
    const done = await run.done;
    expect(done.code, run.output()).toBe(0);

    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'succeeded', reason: null, attempts: 1, outputs: { approved: true, comment: 'ship it', by: 'Grace Hopper' } });
    expect(record.stages.gate!.outputs.at).toMatch(ISO);
    expect(record.stages.deploy!.status).toBe('succeeded');
  });

  test('`r` rejects: the gate fails with reason rejected and what it guards is skipped (exit 1)', async () => {
    const dir = workspace(PIPELINE);
    const run = startPty(['apply'], dir, identityEnv(dir, undefined, 'linus'));
    await run.waitFor(/\[a\] approve/);
    run.write('r');
    const done = await run.done;
    expect(done.code, run.output()).toBe(1);
    expect(run.output()).toMatch(/gate\s+✗ failed\s+\S+\s+rejected by linus/);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'failed', reason: 'rejected', outputs: { approved: false, comment: null, by: 'linus' } });
    expect(record.stages.deploy).toMatchObject({ status: 'skipped', reason: 'needs' });
  });

  test('Ctrl-C at the prompt cancels the run like anywhere else (exit 130)', async () => {
    const dir = workspace(PIPELINE);
    const run = startPty(['apply'], dir, identityEnv(dir));
    await run.waitFor(/\[a\] approve/);
    run.write('\x03');
    const done = await run.done;
    expect(done.code, run.output()).toBe(130);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(record.stages.deploy!.status).toBe('cancelled');
  });
});
