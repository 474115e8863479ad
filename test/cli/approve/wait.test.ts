import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { COMMAND, identityEnv, ISO, runDirOf, runJson, workspace } from './helpers.js';
import { cli, events, requireBuild, start } from '../../support/cli.js';

beforeAll(requireBuild);

const gate = (extra = '') => `version: 1
name: ci-gate
stages:
  build:
    kind: command
    run: echo built
  gate:
    kind: approve
    needs: [build]
    message: "Release \${{ stages.build.outputs.exit_code }}?"
${extra}  deploy:
    kind: command
    needs: [gate]
    run: test -f ready.txt
`;

describe('without a terminal the run waits for `factory approve`', () => {
  test('it prints the exact command; a second process answers from a subfolder; the run goes on at once', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes', 'src/lib/x.txt': '' });
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply'], dir, env);
    const m = await run.waitFor(COMMAND);
    expect(run.output()).toMatch(/\? gate waiting for approval: Release 0\?/);
    const [, id, stage, dirFlag] = m;
    expect(stage).toBe('gate');
    expect(dirFlag).toBeUndefined();
    // Waiting, nothing after the gate has started.
    expect(run.output()).not.toContain('deploy started');
    expect(existsSync(path.join(runDirOf(dir), 'approvals', 'gate.waiting.json'))).toBe(true);

    const answered = await cli(['approve', id!, 'gate', '--comment', 'go ahead'], path.join(dir, 'src', 'lib'), env);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toBe(`approved "gate" of run ${id} as ada: go ahead\n`);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'succeeded', outputs: { approved: true, comment: 'go ahead', by: 'ada' }, message: 'approved by ada: go ahead' });
    expect(record.stages.gate!.outputs.at).toMatch(ISO);
    expect(record.stages.deploy!.status).toBe('succeeded');
    // The question is gone; the answer stays with the run.
    expect(readdirSync(path.join(runDirOf(dir), 'approvals'))).toEqual(['gate.answer.json']);
  });

  test('--json: approval_waiting carries the command and the shown values; --reject fails the gate (exit 1)', async () => {
    const dir = workspace(gate('    show: ["${{ stages.build.outputs.stdout }}"]\n'), { 'ready.txt': 'yes' });
    const env = identityEnv(dir, 'Margaret Hamilton');
    const run = start(['apply', '--json'], dir, env);
    await run.waitFor(/"type":"approval_waiting"/);
    const waiting = events(run.output()).find((e) => e.type === 'approval_waiting')!;
    expect(waiting).toMatchObject({ stage: 'gate', message: 'Release 0?', show: [{ label: 'stages.build.outputs.stdout', value: 'built\n' }] });
    const [, id, stage] = String(waiting.command).match(COMMAND)!;
    const answered = await cli(['approve', id!, stage!, '--reject', '--comment', 'not today'], dir, env);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toContain('rejected "gate"');
    const done = await run.done;
    expect(done.code).toBe(1);
    const finished = events(done.stdout).filter((e) => e.type === 'stage_finished');
    expect(finished.find((e) => e.stage === 'gate')).toMatchObject({ status: 'failed', reason: 'rejected', message: 'rejected by Margaret Hamilton: not today' });
    expect(finished.find((e) => e.stage === 'deploy')).toMatchObject({ status: 'skipped', reason: 'needs' });
    expect(runJson(dir).stages.gate!.outputs).toMatchObject({ approved: false, comment: 'not today', by: 'Margaret Hamilton' });
  });

  test('apply from another folder prints the command with --dir, and it answers from there', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes' });
    const parent = path.dirname(dir);
    const env = identityEnv(dir);
    const run = start(['apply', path.basename(dir)], parent, env);
    const [, id, , dirFlag] = await run.waitFor(COMMAND);
    expect(dirFlag).toBe(path.basename(dir));
    const answered = await cli(['approve', id!, 'gate', '--dir', dirFlag!], parent, env);
    expect(answered.code, answered.stderr).toBe(0);
    expect((await run.done).code).toBe(0);
  });

  test('a timeout fails closed: failed, reason rejected, approved false (exit 1)', async () => {
    const dir = workspace(gate('    timeout: 300ms\n'), { 'ready.txt': 'yes' });
    const r = await cli(['apply'], dir, identityEnv(dir));
    expect(r.code, r.stderr).toBe(1);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'failed', reason: 'rejected', message: 'no answer within 300ms: rejected (on_timeout: reject)', outputs: { approved: false, comment: null, by: null } });
    expect(record.stages.deploy!.status).toBe('skipped');
    expect(existsSync(path.join(runDirOf(dir), 'approvals', 'gate.waiting.json'))).toBe(false);
  });

  test('on_timeout: approve approves when nobody answers', async () => {
    const dir = workspace(gate('    timeout: 200ms\n    on_timeout: approve\n'), { 'ready.txt': 'yes' });
    const r = await cli(['apply'], dir, identityEnv(dir));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'succeeded', message: 'no answer within 200ms: approved (on_timeout: approve)', outputs: { approved: true } });
  });

  test('--approve answers in advance: nothing waits; unknown ids and other kinds are refused (exit 2)', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes' });
    const env = identityEnv(dir, undefined, 'grace');
    const r = await cli(['apply', '--approve', 'gate'], dir, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('waiting for approval');
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'succeeded', message: 'approved by grace in advance (apply --approve)', outputs: { approved: true, comment: null, by: 'grace' } });

    const typo = await cli(['apply', '--approve', 'gaet'], dir, env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--approve: there is no stage "gaet" (did you mean "gate"?); the approve stages are gate');
    const kind = await cli(['apply', '--approve', 'build'], dir, env);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('--approve: stage "build" is a command stage; --approve answers approve stages (gate)');
  });

  test('--resume keeps the answer: the approved gate is not asked again', async () => {
    const dir = workspace(gate());
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    expect((await cli(['approve', id!, 'gate', '--comment', 'once'], dir, env)).code).toBe(0);
    const first = await run.done;
    expect(first.code).toBe(1); // deploy: ready.txt is missing
    const answer = runJson(dir).stages.gate!.outputs;

    writeFileSync(path.join(dir, 'ready.txt'), 'yes');
    const resumed = await cli(['apply', '--resume', '--json'], dir, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const evs = events(resumed.stdout);
    expect(evs.some((e) => e.type === 'approval_waiting')).toBe(false);
    expect(evs.find((e) => e.type === 'stage_finished' && e.stage === 'gate')).toMatchObject({ status: 'succeeded', kept: true });
    const record = runJson(dir);
    expect(record.id).toBe(id);
    expect(record.stages.gate!.outputs).toEqual(answer);
    expect(record.stages.deploy!.status).toBe('succeeded');
  });

  test('--resume keeps a rejection too; --approve on the resumed run overrides it', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes' });
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    expect((await cli(['approve', id!, 'gate', '--reject', '--comment', 'no'], dir, env)).code).toBe(0);
    expect((await run.done).code).toBe(1);

    const again = await cli(['apply', '--resume'], dir, env);
    expect(again.code).toBe(1);
    expect(again.stderr).not.toContain('waiting for approval');
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'failed', reason: 'rejected', outputs: { comment: 'no' } });

    const overridden = await cli(['apply', '--resume', '--approve', 'gate'], dir, env);
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'succeeded', outputs: { approved: true, comment: null } });
  });

  test('an answer given while a killed run waited is kept when it resumes', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes' });
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    // The answer lands, and the run dies before it reads it.
    mkdirSync(path.join(runDirOf(dir), 'approvals'), { recursive: true });
    run.kill('SIGKILL');
    await run.done;
    const late = await cli(['approve', id!, 'gate'], dir, env);
    expect(late.code).toBe(2);
    expect(late.stderr).toContain(`run ${id} is not running any more`);
    writeFileSync(
      path.join(runDirOf(dir), 'approvals', 'gate.answer.json'),
      JSON.stringify({ version: 1, stage: 'gate', kind: 'approve', approved: true, comment: 'before the crash', by: 'ada', at: new Date().toISOString(), via: 'command' }),
    );
    const resumed = await cli(['apply', `--resume=${id}`], dir, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toContain('waiting for approval');
    expect(runJson(dir).stages.gate!.outputs).toMatchObject({ approved: true, comment: 'before the crash' });
  });

  test('a waiting gate holds no concurrency slot: with concurrency 1, other stages run meanwhile', async () => {
    const dir = workspace(`version: 1
concurrency: 1
defaults: { retries: 3 }
stages:
  gate:
    kind: approve
  side:
    kind: command
    run: echo side
  later:
    kind: command
    needs: [side]
    run: echo later
`);
    const env = identityEnv(dir);
    const run = start(['apply'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    await run.waitFor(/later succeeded/);
    expect(run.output()).not.toMatch(/gate (succeeded|failed)/);
    expect((await cli(['approve', id!, 'gate', '--reject'], dir, env)).code).toBe(0);
    expect((await run.done).code).toBe(1);
    // Rejected once, never retried (retries apply to stages that do work).
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'failed', reason: 'rejected', attempts: 1 });
  });

  test('Ctrl-C while waiting cancels the run (exit 130) and leaves no question behind', async () => {
    const dir = workspace(gate(), { 'ready.txt': 'yes' });
    const run = start(['apply'], dir, identityEnv(dir));
    await run.waitFor(COMMAND);
    run.kill('SIGINT');
    const done = await run.done;
    expect(done.code).toBe(130);
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(readdirSync(path.join(runDirOf(dir), 'approvals'))).toEqual([]);
  });
});
