import { describe, expect, it, vi } from 'vitest';
import { palette, stripAnsi } from '../../src/ui/format.js';
import { TtyRenderer } from '../../src/ui/listr.js';
import { type FakeStream, fakeIO, Script, usage } from './fake-io.js';

/**
 * The listr2 renderer drawn on a fake terminal stream (isTTY, columns, rows). log-update draws
 * each frame as "erase the previous lines, then the frame", so the frame on screen is the text
 * after the last cursor-to-column-1 sequence (ESC [G); listr2 shows the cursor again after its
 * last frame.
 */
const NOW = Date.UTC(2026, 0, 2, 13, 15, 0);
// eslint-disable-next-line no-control-regex -- it matches the terminal's escape sequences
const SGR = /\u001b\[\d+(?:;\d+)*m/;

function screen(stream: FakeStream): string {
  const text = stream.text;
  const start = text.lastIndexOf('\u001b[G');
  const from = start < 0 ? 0 : start + 3;
  const end = text.indexOf('\u001b[?25h', from);
  return stripAnsi(text.slice(from, end < 0 ? undefined : end)).replace(/\n+$/, '');
}

function setup(env: NodeJS.ProcessEnv = { NO_COLOR: '1' }) {
  const io = fakeIO({ tty: true, columns: 100, env });
  let now = NOW;
  const renderer = new TtyRenderer(io, { tick: false, lazy: true, now: () => now });
  return { io, renderer, setNow: (t: number) => (now = t) };
}

const STAGES = [
  { path: 'lint', kind: 'command' },
  { path: 'plan', kind: 'plan' },
  { path: 'build', kind: 'loop', needs: ['plan'], max_iterations: 4 },
  { path: 'build.generate', kind: 'generate' },
  { path: 'build.test', kind: 'command', needs: ['generate'] },
  { path: 'deploy', kind: 'approve', needs: ['build'] },
  { path: 'docs', kind: 'command' },
];

function wholeRun(s: Script): void {
  s.started(STAGES);
  s.finished('lint', 'succeeded', 0, { cached: true });
  s.stageStarted('plan', 0, { kind: 'plan' });
  s.modelCall('plan', usage(1000, 200), 0.0123, 100);
  s.finished('plan', 'succeeded', 1900, { usage: usage(1000, 200), cost: 0.0123 });
  s.finished('docs', 'skipped', 0, { reason: 'if', message: 'condition was false' });
  s.stageStarted('build', 0, { kind: 'loop' });
  s.stageStarted('build.generate', 0, { iteration: 1 });
  s.finished('build.generate', 'succeeded', 1000, { iteration: 1 });
  s.stageStarted('build.test', 0, { iteration: 1 });
  s.finished('build.test', 'failed', 300, { iteration: 1, reason: 'exit_code', message: 'exit code 1' });
  s.stageStarted('build.generate', 0, { iteration: 2 });
  s.finished('build.generate', 'succeeded', 1000, { iteration: 2 });
  s.stageStarted('build.test', 0, { iteration: 2 });
  s.finished('build.test', 'succeeded', 300, { iteration: 2 });
  s.finished('build', 'succeeded', 2600);
  s.stageStarted('deploy', 0, { kind: 'approve' });
  s.approval('deploy', 'Ship it?', 'factory approve r1 deploy');
  s.finished('deploy', 'failed', 5000, { reason: 'rejected', message: 'not today' });
  s.runFinished('failed', 1, 12_000, usage(1000, 200), 0.0123);
}

describe('tty renderer (listr2)', () => {
  it('ends with the stage tree, statuses, times, usage and reasons, then the summary', async () => {
    const { io, renderer } = setup();
    const s = new Script();
    wholeRun(s);
    const sigint = process.listenerCount('SIGINT');
    for (const e of s.events) renderer.emit(e);
    expect(process.listenerCount('SIGINT')).toBe(sigint);
    await renderer.close();
    expect(screen(io.stderr)).toBe(
      [
        '✓ lint  cached',
        '✓ plan  1.9s · 1.2k tokens · $0.0123',
        '✓ build  iteration 2/4 · 2.6s',
        '  ✓ generate  1.0s',
        '  ✓ test  300ms',
        '✗ deploy  failed (rejected: not today) · 5.0s',
        '↓ docs  skipped (if: condition was false)',
      ].join('\n'),
    );
    const summary = io.stderr.text.slice(io.stderr.text.lastIndexOf('\u001b[?25h') + 6);
    expect(summary.split('\n').slice(0, 3)).toEqual([
      '',
      'stage                         status       duration  tokens     cost  reason',
      'lint                          ✓ succeeded       0ms       -        -  cached',
    ]);
    expect(summary).toContain('\n✗ run failed · exit 1 · 12.0s · 1.2k tokens · $0.0123 · record .factory/runs/r1\n');
    expect(io.stderr.text).not.toMatch(SGR);
    expect(io.stdout.text).toBe('');
    expect(process.listenerCount('SIGINT')).toBe(sigint);
  });

  it('shows waiting and running stages live, the last output line, iterations and approvals', async () => {
    const { io, renderer, setNow } = setup();
    const s = new Script();
    const emit = (e: Parameters<typeof renderer.emit>[0]) => renderer.emit(e);
    emit(s.started(STAGES.slice(1, 6)));
    emit(s.stageStarted('plan', 0, { kind: 'plan' }));
    setNow(NOW + 2300);
    emit(s.output('plan', 'first line\nsecond line\npart'));
    emit(s.modelCall('plan', usage(12_000, 300), 0.05));
    await vi.waitFor(() =>
      expect(screen(io.stderr)).toBe(
        [
          '❯ plan  2.3s · 12.3k tokens · $0.0500',
          '  › second line',
          '· build',
          '· deploy',
        ].join('\n'),
      ),
    );
    emit(s.finished('plan', 'succeeded', 3000));
    emit(s.stageStarted('build', 0, { kind: 'loop' }));
    emit(s.stageStarted('build.generate', 0, { iteration: 1 }));
    emit(s.finished('build.generate', 'succeeded', 1000, { iteration: 1 }));
    emit(s.stageStarted('build.test', 0, { iteration: 1 }));
    emit(s.finished('build.test', 'failed', 500, { iteration: 1, reason: 'exit_code', message: 'exit code 1' }));
    await vi.waitFor(() => expect(screen(io.stderr)).toContain('  ✗ test  failed (exit_code: exit code 1) · 500ms'));
    // A new iteration: the body starts over, its stages wait again.
    setNow(Date.parse(s.at(0)) + 1500);
    emit(s.stageStarted('build.generate', 0, { iteration: 2 }));
    await vi.waitFor(() =>
      expect(screen(io.stderr)).toBe(
        [
          '✓ plan  3.0s',
          '❯ build  iteration 2/4 · 3.0s',
          '  ❯ generate  1.5s',
          '  · test',
          '· deploy',
        ].join('\n'),
      ),
    );
    emit(s.finished('build.generate', 'succeeded', 1000, { iteration: 2 }));
    emit(s.stageStarted('build.test', 0, { iteration: 2 }));
    emit(s.finished('build.test', 'succeeded', 400, { iteration: 2 }));
    emit(s.finished('build', 'succeeded', 100));
    emit(s.stageStarted('deploy', 0, { kind: 'approve' }));
    emit(s.approval('deploy', 'Ship it?', 'factory approve r1 deploy'));
    await vi.waitFor(() => expect(screen(io.stderr)).toMatch(/❯ deploy {2}waiting for approval: Ship it\? · .*\n {2}› answer with: factory approve r1 deploy$/));
    emit(s.finished('deploy', 'succeeded', 100));
    emit(s.runFinished('succeeded', 0, 9000));
    await renderer.close();
    expect(screen(io.stderr)).toBe(
      ['✓ plan  3.0s', '✓ build  iteration 2/4 · 100ms', '  ✓ generate  1.0s', '  ✓ test  400ms', '✓ deploy  100ms'].join('\n'),
    );
  });

  it('ends at close even when the run never finished, marking what was cut short', async () => {
    const { io, renderer } = setup();
    const s = new Script();
    renderer.emit(s.started([{ path: 'a', kind: 'command' }, { path: 'b', kind: 'command', needs: ['a'] }, { path: 'loop', kind: 'loop' }, { path: 'loop.x', kind: 'command' }]));
    renderer.emit(s.stageStarted('a'));
    renderer.emit(s.stageStarted('loop'));
    renderer.emit(s.stageStarted('loop.x', 0, { iteration: 1 }));
    await renderer.close();
    // The summary's symbols: ⊘ interrupted, · not run.
    expect(screen(io.stderr)).toBe(['⊘ a  interrupted', '· b  not run', '⊘ loop  iteration 1 · interrupted', '  ⊘ x  interrupted'].join('\n'));
    const summary = io.stderr.text.slice(io.stderr.text.lastIndexOf('\u001b[?25h') + 6);
    expect(summary.split('\n').slice(1, 6)).toEqual([
      'stage                 status         duration  reason',
      'a                     ⊘ interrupted',
      'b                     · not run',
      'loop (1 iteration)    ⊘ interrupted',
      'loop.x (iteration 1)  ⊘ interrupted',
    ]);
    expect(io.stderr.text).toContain('⚠ run did not finish\n');
  });

  it('draws one tree and one summary per run in watch mode, in order', async () => {
    const { io, renderer } = setup();
    const first = new Script('r1');
    first.started([{ path: 'a', kind: 'command' }]);
    first.stageStarted('a');
    first.finished('a', 'failed', 100, { reason: 'exit_code', message: 'exit code 1' });
    first.runFinished('failed', 1, 100);
    first.push({ type: 'watch_change', time: first.at(1000), run: 'r1', paths: ['src/a.ts'] });
    const second = new Script('r2');
    second.started([{ path: 'a', kind: 'command' }]);
    second.stageStarted('a');
    second.finished('a', 'succeeded', 200);
    second.runFinished('succeeded', 0, 200);
    for (const e of [...first.events, ...second.events]) renderer.emit(e);
    await renderer.close();
    const text = stripAnsi(io.stderr.text);
    const firstSummary = text.indexOf('✗ run failed · exit 1 · 100ms · record .factory/runs/r1');
    const secondSummary = text.indexOf('✓ run succeeded · exit 0 · 200ms · record .factory/runs/r2');
    expect(firstSummary).toBeGreaterThan(0);
    expect(secondSummary).toBeGreaterThan(firstSummary);
    expect(text.slice(firstSummary, secondSummary)).toContain('✓ a  200ms');
    expect(screen(io.stderr)).toBe('✓ a  200ms');
  });

  it('colours icons and statuses with FORCE_COLOR', async () => {
    const { io, renderer } = setup({ FORCE_COLOR: '1' });
    const s = new Script();
    s.started([{ path: 'a', kind: 'command' }, { path: 'b', kind: 'command' }]);
    s.finished('a', 'succeeded', 100);
    s.finished('b', 'error', 100, { reason: 'spawn', message: 'no such file' });
    s.runFinished('error', 1, 100);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text).toContain('\u001b[32m✓\u001b[39m a');
    expect(io.stderr.text).toContain('\u001b[31m✗\u001b[39m b  \u001b[31merror\u001b[39m');
  });

  it('accepts a palette and shows a stage it was not told about on its parent', async () => {
    const io = fakeIO({ tty: true, columns: 80 });
    const renderer = new TtyRenderer(io, { tick: false, lazy: true, colors: palette(false) });
    const s = new Script();
    renderer.emit(s.started([{ path: 'p', kind: 'pipeline' }]));
    renderer.emit(s.stageStarted('p', 0, { kind: 'pipeline' }));
    renderer.emit(s.stageStarted('p.hidden'));
    await vi.waitFor(() => expect(screen(io.stderr)).toMatch(/^❯ p {2}.*\n {2}› p\.hidden started$/));
    renderer.emit(s.finished('p', 'succeeded', 10));
    renderer.emit(s.runFinished('succeeded', 0, 10));
    await renderer.close();
    expect(screen(io.stderr)).toBe('✓ p  10ms');
  });

  it('with its defaults (spinner, ticking elapsed time) still ends cleanly on close', async () => {
    const io = fakeIO({ tty: true, columns: 100, env: { NO_COLOR: '1' } });
    const renderer = new TtyRenderer(io, { tick: 5 });
    const s = new Script();
    renderer.emit(s.started([{ path: 'a', kind: 'command' }]));
    renderer.emit(s.stageStarted('a'));
    await vi.waitFor(() => expect(screen(io.stderr)).toMatch(/^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] a {2}\d/));
    renderer.emit(s.finished('a', 'succeeded', 1234));
    renderer.emit(s.runFinished('succeeded', 0, 1300));
    await renderer.close();
    expect(screen(io.stderr)).toBe('✓ a  1.2s');
  });
});
