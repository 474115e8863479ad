import { describe, expect, it, vi } from 'vitest';
import { formatReason, palette, stripAnsi } from '../../src/ui/format.js';
import { TtyRenderer } from '../../src/ui/listr.js';
import { PlainRenderer } from '../../src/ui/plain.js';
import { QuietRenderer } from '../../src/ui/quiet.js';
import { fakeIO, Script } from './fake-io.js';

const STAGES = [
  { path: 'lint', kind: 'command' },
  { path: 'test', kind: 'command' },
  { path: 'build', kind: 'loop', max_iterations: 3 },
  { path: 'build.check', kind: 'command' },
];

/** 30 lines from `test` (stdout and stderr), a lint that fails then passes, a loop whose last iteration fails. */
function failingRun(s: Script): void {
  s.started(STAGES);
  s.stageStarted('lint');
  s.output('lint', 'lint warning\n');
  s.stageStarted('test');
  for (let i = 1; i <= 29; i++) s.output('test', `ok ${i}\n`);
  s.output('test', 'AssertionError: 1 !== 2', 0, { stream: 'stderr' });
  s.finished('test', 'failed', 300, { reason: 'exit_code', message: 'exited with code 1' });
  s.finished('lint', 'error', 10, { reason: 'spawn', message: 'no eslint' });
  s.stageStarted('lint', 0, { attempt: 2 });
  s.finished('lint', 'succeeded', 10);
  s.stageStarted('build', 0, { kind: 'loop' });
  s.stageStarted('build.check', 0, { iteration: 1 });
  s.output('build.check', 'first try\n', 0, { iteration: 1 });
  s.finished('build.check', 'failed', 10, { iteration: 1, reason: 'exit_code', message: 'exited with code 2' });
  s.stageStarted('build.check', 0, { iteration: 2 });
  s.output('build.check', 'second try\n', 0, { iteration: 2 });
  s.finished('build.check', 'failed', 10, { iteration: 2, reason: 'exit_code', message: 'exited with code 2' });
  s.finished('build', 'failed', 30, { reason: 'not_converged', message: 'until was still false after 2 iterations' });
  s.runFinished('failed', 1, 400);
}

const TEST_TAIL = [
  '✗ test failed (exit_code: exited with code 1) — the last 20 of its 30 output lines:',
  '  ┆ …',
  ...Array.from({ length: 19 }, (_, i) => `  │ ok ${i + 11}`),
  '  │ AssertionError: 1 !== 2',
  '  all of it: factory show r1 test --dir ../elsewhere',
];
const CHECK_TAIL = [
  '✗ build.check failed (exit_code: exited with code 2) in iteration 2 — its output (1 line):',
  '  │ second try',
  '  all of it: factory show r1 build.check --iteration 2 --dir ../elsewhere',
];

function withDir(s: Script): void {
  const started = s.events[0] as { dir: string };
  started.dir = '/elsewhere';
}

describe('a failed stage\'s output tail when the run ends', () => {
  it('plain: under the run, before the summary, each failed stage\'s last 20 lines and the command that shows all of it', async () => {
    const io = fakeIO({ env: { NO_COLOR: '1' } });
    const renderer = new PlainRenderer(io, { utc: true });
    const s = new Script();
    failingRun(s);
    withDir(s);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    const text = io.stderr.text;
    const summary = text.indexOf('\nstage ');
    const tails = text.slice(text.indexOf('\n\n✗ test failed') + 2, summary);
    expect(tails.split('\n')).toEqual([...TEST_TAIL, '', ...CHECK_TAIL, '']);
    // The lint error was retried and passed; the loop has no output of its own.
    expect(tails).not.toContain('lint');
    expect(tails).not.toMatch(/^✗ build failed/m);
    expect(tails).not.toContain('first try');
  });

  it('quiet: the tails come with the summary of a run that failed', async () => {
    const io = fakeIO({ env: { NO_COLOR: '1' } });
    const renderer = new QuietRenderer(io, palette(false));
    const s = new Script();
    failingRun(s);
    withDir(s);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text).toContain(`\n${TEST_TAIL.join('\n')}\n\n${CHECK_TAIL.join('\n')}\n`);
  });

  it('tty: after the tree\'s last frame, before the summary', async () => {
    const io = fakeIO({ tty: true, columns: 100, env: { NO_COLOR: '1' } });
    const renderer = new TtyRenderer(io, { tick: false, lazy: true });
    const s = new Script();
    failingRun(s);
    withDir(s);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    // listr2 shows the cursor again after its last frame: the tails come after it.
    const afterTree = stripAnsi(io.stderr.text.slice(io.stderr.text.lastIndexOf('\u001b[?25h')));
    expect(afterTree).toContain(`\n${TEST_TAIL.join('\n')}\n\n${CHECK_TAIL.join('\n')}\n\nstage `);
  });

  it('a run that succeeds, or fails without output, prints no tail', async () => {
    const io = fakeIO({ env: { NO_COLOR: '1' } });
    const renderer = new PlainRenderer(io, { utc: true });
    const s = new Script();
    s.started([{ path: 'gate', kind: 'approve' }]);
    s.stageStarted('gate', 0, { kind: 'approve' });
    s.finished('gate', 'failed', 10, { reason: 'rejected', message: 'rejected by ada' });
    s.runFinished('failed', 1, 10);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text).not.toContain('all of it');
  });
});

describe('one set of words and symbols', () => {
  it('a reason is not said twice beside its status or its message', () => {
    expect(formatReason('cancelled', 'interrupted', 'cancelled')).toBe('interrupted');
    expect(formatReason('cancelled', undefined, 'cancelled')).toBe('');
    expect(formatReason('cancelled', 'interrupted', 'error')).toBe('cancelled: interrupted');
    expect(formatReason('if', 'if: ${{ false }} was false', 'skipped')).toBe('if: ${{ false }} was false');
    expect(formatReason('if', '${{ false }} was false', 'skipped')).toBe('if: ${{ false }} was false');
    expect(formatReason('budget', 'budget tokens exhausted', 'error')).toBe('budget tokens exhausted');
    expect(formatReason('exit_code', 'exited with code 1', 'failed')).toBe('exit_code: exited with code 1');
  });

  it('the live tree marks stages as the summary does; a cancelled stage reads "cancelled (interrupted)"', async () => {
    const io = fakeIO({ tty: true, columns: 100, env: { NO_COLOR: '1' } });
    const renderer = new TtyRenderer(io, { tick: false, lazy: true });
    const s = new Script();
    s.started([{ path: 'a', kind: 'command' }, { path: 'b', kind: 'command' }, { path: 'c', kind: 'command' }, { path: 'd', kind: 'command' }]);
    s.stageStarted('a');
    s.finished('a', 'succeeded', 100);
    s.stageStarted('b');
    s.finished('b', 'cancelled', 100, { reason: 'cancelled', message: 'interrupted' });
    s.finished('c', 'skipped', 0, { reason: 'needs', message: 'b was cancelled' });
    s.stageStarted('d');
    s.finished('d', 'error', 100, { reason: 'spawn', message: 'no such file' });
    s.runFinished('cancelled', 130, 300);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    const text = stripAnsi(io.stderr.text);
    expect(text).toContain('⊘ b  cancelled (interrupted)');
    expect(text).not.toContain('cancelled (cancelled');
    expect(text).toContain('↓ c  skipped (needs: b was cancelled)');
    expect(text).toContain('✗ d  error (spawn: no such file)');
    expect(text).toMatch(/^b +⊘ cancelled +100ms +interrupted$/m);
    expect(text).toMatch(/^c +↓ skipped +needs: b was cancelled$/m);
    expect(text).toMatch(/^d +✗ error +100ms +spawn: no such file$/m);
    expect(text).toMatch(/^a +✓ succeeded/m);
    expect(text).toContain('✓ a  100ms');
  });

  it('every running row\'s elapsed time moves together: a loop never reads less than the stage inside it', async () => {
    const io = fakeIO({ tty: true, columns: 100, env: { NO_COLOR: '1' } });
    let now = Date.UTC(2026, 0, 2, 13, 15, 0);
    const renderer = new TtyRenderer(io, { tick: false, lazy: true, now: () => now });
    const s = new Script();
    renderer.emit(s.started([{ path: 'build', kind: 'loop', max_iterations: 2 }, { path: 'build.test', kind: 'command' }]));
    renderer.emit(s.stageStarted('build', 0, { kind: 'loop' }));
    renderer.emit(s.stageStarted('build.test', 200, { iteration: 1 }));
    now += 700;
    // Only the child has an event: the loop's row moves with it.
    renderer.emit(s.output('build.test', 'working\n', 0, { iteration: 1 }));
    await vi.waitFor(() => {
      const frame = stripAnsi(io.stderr.text.slice(io.stderr.text.lastIndexOf('\u001b[G')));
      expect(frame).toContain('build  iteration 1/2 · 700ms');
      expect(frame).toContain('test  500ms');
    });
    renderer.emit(s.finished('build.test', 'succeeded', 500, { iteration: 1 }));
    renderer.emit(s.finished('build', 'succeeded', 0));
    renderer.emit(s.runFinished('succeeded', 0, 700));
    await renderer.close();
  });
});

describe('many failed stages', () => {
  it('the first five get a tail; the others are named with the command that shows them', async () => {
    const io = fakeIO({ env: { NO_COLOR: '1' } });
    const renderer = new PlainRenderer(io, { utc: true });
    const s = new Script();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    s.started(ids.map((path) => ({ path, kind: 'command' })));
    for (const id of ids) {
      s.stageStarted(id);
      s.output(id, `${id} broke\n`);
      s.finished(id, 'failed', 10, { reason: 'exit_code', message: 'exited with code 1' });
    }
    s.runFinished('failed', 1, 100);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text.match(/— its output \(1 line\):/g)).toHaveLength(5);
    expect(io.stderr.text).toContain('\n2 more failed stages left output: f, g (factory show r1 STAGE)\n');
  });
});
