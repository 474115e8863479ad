import { beforeAll, describe, expect, test } from 'vitest';
import { cli, HAS_SCRIPT, requireBuild, runBuilt, startPty } from '../support/cli.js';
import { workspaceWith } from '../support/workspace-files.js';

beforeAll(requireBuild);

/** A test that prints 30 lines and an error, beside a stage that passes. */
const PIPELINE = `version: 1
name: tail
stages:
  ok:
    kind: command
    run: echo fine
  test:
    kind: command
    run: 'for i in $(seq 1 30); do echo "ok $i"; done; echo "AssertionError: 1 !== 2" >&2; exit 1'
`;

const tailOf = (text: string) => {
  const lines = text.replace(/\r/g, '').split('\n');
  const head = lines.findIndex((l) => /^✗ test failed \(exit_code: [^)]*\) — the last 20 of its 31 output lines:$/.test(l));
  return head < 0 ? [] : lines.slice(head, head + 23);
};

function expectTail(text: string): string {
  const tail = tailOf(text);
  expect(tail[1]).toBe('  ┆ …');
  expect(tail.slice(2, 21)).toEqual(Array.from({ length: 19 }, (_, i) => `  │ ok ${i + 12}`));
  expect(tail[21]).toBe('  │ AssertionError: 1 !== 2');
  const show = tail[22]?.match(/^ {2}all of it: (factory show (\S+) test)$/);
  expect(show, text).not.toBeNull();
  return show![2]!;
}

describe('a failed stage shows the end of its output when the run ends', () => {
  test('plain (CI): the tail after the log, before the summary; `factory show` then prints all of it', () => {
    const dir = workspaceWith('factory-tail-', { 'factory.yaml': PIPELINE });
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(1);
    const run = expectTail(r.stderr);
    expect(r.stderr.indexOf('— the last 20')).toBeLessThan(r.stderr.indexOf('\nstage '));
    const shown = runBuilt(['show', run, 'test'], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('ok 1\n');
    expect(shown.stdout).toContain('ok 30\n');
    expect(shown.stdout).toContain('AssertionError: 1 !== 2');
  });

  test('--dir from elsewhere: the command names the folder', async () => {
    const dir = workspaceWith('factory-tail-', { 'project/factory.yaml': PIPELINE });
    const r = await cli(['apply', 'project/factory.yaml'], dir);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ {2}all of it: factory show \S+ test --dir project\n/);
  });

  test.runIf(HAS_SCRIPT)('on a terminal (the live tree, through a real pseudo-terminal): the tail stays after the tree ends', async () => {
    const dir = workspaceWith('factory-tail-', { 'factory.yaml': PIPELINE });
    const run = startPty(['apply'], dir);
    const done = await run.done;
    expect(done.code, run.output()).toBe(1);
    const screen = run.output();
    // Drawn by listr2 (the cursor is hidden while it draws), with the summary's symbols.
    expect(screen).toContain('\u001b[?25l');
    expect(screen).toMatch(/✗ test {2}failed \(exit_code: /);
    expectTail(screen);
  });
});
