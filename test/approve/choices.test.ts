import { beforeAll, describe, expect, test } from 'vitest';
import { cli, COMMAND, events, HAS_SCRIPT, identityEnv, requireBuild, runJson, start, startPty, workspace } from './helpers.js';

beforeAll(requireBuild);

// Choices (docs/human-gates.md): an approve stage that offers labelled options instead of
// approve/reject, routed on `outputs.choice`.
const CHOICES = (extra = '') => `version: 1
name: choices
stages:
  gate:
    kind: approve
    message: What now?
    options:
      - { id: fix, label: Fix it, description: another round of the loop }
      - { id: ship, label: Ship as is }
      - { id: abort, label: Give up }
${extra}  fixing:
    kind: command
    needs: [gate]
    if: \${{ stages.gate.outputs.choice == 'fix' }}
    run: echo fixing
  shipping:
    kind: command
    needs: [gate]
    if: \${{ stages.gate.outputs.choice == 'ship' }}
    run: echo shipping
`;

describe('an approve stage with options', () => {
  test('three options answered from another shell: --choice routes the pipeline; bad answers are refused', async () => {
    const dir = workspace(CHOICES());
    const env = identityEnv(dir, undefined, 'ada');
    const run = start(['apply', '--json'], dir, env);
    await run.waitFor(/"type":"approval_waiting"/);
    const waiting = events(run.output()).find((e) => e.type === 'approval_waiting')!;
    expect(waiting.options).toEqual([
      { id: 'fix', label: 'Fix it', description: 'another round of the loop' },
      { id: 'ship', label: 'Ship as is' },
      { id: 'abort', label: 'Give up' },
    ]);
    expect(String(waiting.command)).toMatch(/^factory approve \S+ gate --choice ID$/);
    const [, id] = String(waiting.command).match(COMMAND)!;

    const none = await cli(['approve', id!, 'gate'], dir, env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('"gate" offers options: choose one with --choice ID; its options are fix (Fix it), ship (Ship as is), abort (Give up)');
    const typo = await cli(['approve', id!, 'gate', '--choice', 'shipp'], dir, env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"gate" has no option "shipp" (did you mean "ship"?)');
    const reject = await cli(['approve', id!, 'gate', '--reject'], dir, env);
    expect(reject.code).toBe(2);
    expect(reject.stderr).toContain('offers options instead of approve/reject');

    const chose = await cli(['approve', id!, 'gate', '--choice', 'ship', '--comment', 'good enough'], dir, env);
    expect(chose.code, chose.stderr).toBe(0);
    expect(chose.stdout).toBe(`chose "ship" for "gate" of run ${id} as ada: good enough\n`);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'succeeded', outputs: { approved: true, choice: 'ship', comment: 'good enough', by: 'ada' }, message: 'chose "ship" by ada: good enough' });
    expect(record.stages.shipping!.status).toBe('succeeded');
    expect(record.stages.fixing!.status).toBe('skipped');

    const again = await cli(['approve', id!, 'gate', '--choice', 'fix'], dir, env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('was answered already: chose "ship" by ada');
  });

  test('a timeout takes the default; without one the gate fails closed', async () => {
    const withDefault = workspace(CHOICES('    timeout: 200ms\n    default: fix\n'));
    const a = await cli(['apply'], withDefault);
    expect(a.code, a.stderr).toBe(0);
    expect(runJson(withDefault).stages.gate).toMatchObject({ status: 'succeeded', outputs: { choice: 'fix', by: null }, message: 'no answer within 200ms: took the default "fix"' });
    expect(runJson(withDefault).stages.fixing!.status).toBe('succeeded');

    const without = workspace(CHOICES('    timeout: 200ms\n'));
    const b = await cli(['apply'], without);
    expect(b.code).toBe(1);
    expect(runJson(without).stages.gate).toMatchObject({ status: 'failed', reason: 'rejected', outputs: { approved: false, choice: null } });
  });

  test('--approve takes the default; a gate with choices and no default is refused (exit 2)', async () => {
    const dir = workspace(CHOICES('    default: ship\n'));
    const ok = await cli(['apply', '--approve', 'gate'], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'succeeded', outputs: { choice: 'ship' } });
    const bare = workspace(CHOICES());
    const refused = await cli(['apply', '--approve', 'gate'], bare);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('stage "gate" offers choices and has no `default`');
  });

  test('on a plain approve stage --choice is refused', async () => {
    const dir = workspace(`version: 1
stages:
  gate: { kind: approve, message: Go? }
`);
    const run = start(['apply'], dir);
    const [, id] = await run.waitFor(COMMAND);
    const r = await cli(['approve', id!, 'gate', '--choice', 'fix'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"gate" offers no options, so there is nothing to choose');
    await cli(['approve', id!, 'gate'], dir);
    expect((await run.done).code).toBe(0);
  });
});

describe('bad options, each named at its line (exit 2)', () => {
  const bad = async (stage: string) => {
    const dir = workspace(`version: 1\nstages:\n  gate:\n    kind: approve\n${stage}`);
    return cli(['validate'], dir);
  };

  test('one option only', async () => {
    const r = await bad('    options: [{ id: fix, label: Fix }]\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:5:\d+/);
    expect(r.stderr).toMatch(/at least 2/);
  });

  test('an id given twice, a default naming no option, on_timeout mixed with options', async () => {
    const r = await bad('    options:\n      - { id: fix, label: Fix }\n      - { id: fix, label: Again }\n    default: shipp\n    on_timeout: approve\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:7:15');
    expect(r.stderr).toContain('stage "gate" offers the option "fix" twice');
    expect(r.stderr).toContain('factory.yaml:8:14');
    expect(r.stderr).toContain('stage "gate" has no option "shipp"');
    expect(r.stderr).toContain('factory.yaml:9:5');
    expect(r.stderr).toContain('`on_timeout` does not apply');
  });

  test('a default without options', async () => {
    const r = await bad('    default: fix\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:5:5');
    expect(r.stderr).toContain('has a `default` but no `options`');
  });
});

describe.skipIf(!HAS_SCRIPT)('choices on a terminal', () => {
  test('the options are listed with their keys; `2` chooses the second', async () => {
    const dir = workspace(CHOICES());
    const run = startPty(['apply'], dir, identityEnv(dir, 'Grace Hopper'));
    await run.waitFor(/\[1-3\] choose/);
    expect(run.output()).toContain('[1] Fix it (fix) — another round of the loop');
    expect(run.output()).toContain('[2] Ship as is (ship)');
    run.write('2');
    const done = await run.done;
    expect(done.code, run.output()).toBe(0);
    expect(runJson(dir).stages.gate).toMatchObject({ status: 'succeeded', outputs: { choice: 'ship', by: 'Grace Hopper' } });
  });
});
