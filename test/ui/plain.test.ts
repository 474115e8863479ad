import { describe, expect, it } from 'vitest';
import { palette } from '../../src/ui/format.js';
import { PlainRenderer } from '../../src/ui/plain.js';
import { fakeIO, Script, usage } from './fake-io.js';

const stages = [
  { path: 'plan', kind: 'plan' },
  { path: 'build', kind: 'loop', needs: ['plan'], max_iterations: 4 },
  { path: 'build.generate', kind: 'generate' },
  { path: 'build.test', kind: 'command', needs: ['generate'] },
  { path: 'deploy', kind: 'approve', needs: ['build'] },
];

function render(events: (s: Script) => void, env: NodeJS.ProcessEnv = {}) {
  const io = fakeIO({ env });
  const renderer = new PlainRenderer(io, { utc: true });
  const s = new Script();
  events(s);
  for (const e of s.events) renderer.emit(e);
  return { io, renderer, s };
}

describe('plain renderer', () => {
  it('prints one timestamped line per happening, output lines prefixed with their stage', async () => {
    const { io, renderer } = render((s) => {
      s.started(stages);
      s.stageStarted('plan', 1000);
      s.modelCall('plan', usage(1000, 234), 0.0123, 500);
      s.finished('plan', 'succeeded', 1400, { usage: usage(1000, 234), cost: 0.0123 });
      s.stageStarted('build');
      s.stageStarted('build.generate', 0, { iteration: 1 });
      s.output('build.generate', 'wrote src/a.ts\nwrote sr', 100, { iteration: 1 });
      s.output('build.generate', 'c/b.ts\n', 100, { iteration: 1 });
      s.finished('build.generate', 'succeeded', 800, { iteration: 1 });
      s.stageStarted('build.test', 0, { iteration: 1 });
      s.output('build.test', 'FAIL a.test.ts\r\n', 100, { iteration: 1, stream: 'stderr' });
      s.output('build.test', '1 failed', 100, { iteration: 1 });
      s.finished('build.test', 'failed', 300, { iteration: 1, reason: 'exit_code', message: 'exit code 1' });
      s.stageStarted('build.generate', 0, { iteration: 2 });
      s.finished('build.generate', 'succeeded', 1000, { iteration: 2 });
      s.stageStarted('build.test', 0, { iteration: 2 });
      s.finished('build.test', 'succeeded', 300, { iteration: 2 });
      s.finished('build', 'succeeded', 100);
      s.budgetWarning('', 'tokens', 1_700_000, 2_000_000);
      s.stageStarted('deploy', 0, { kind: 'approve' });
      s.approval('deploy', 'Ship it?', 'factory approve r1 deploy', 10);
      s.finished('deploy', 'error', 5000, { reason: 'timeout', message: 'no answer within 5s' });
      s.runFinished('error', 1, 11_000, usage(1000, 234), 0.0123);
    });
    const lines = io.stderr.text.split('\n');
    expect(lines.slice(0, 23)).toEqual([
      '13:15:00 ▶ run demo started (run r1, 5 stages)',
      '13:15:01 ▶ plan started',
      '13:15:01 ◆ plan claude-sonnet-4-5: 1.2k tokens · $0.0123',
      '13:15:02 ✓ plan succeeded 1.4s · 1.2k tokens · $0.0123',
      '13:15:02 ▶ build started',
      '13:15:02 ↻ build iteration 1/4',
      '13:15:02 ▶ build.generate started',
      '13:15:03 build.generate │ wrote src/a.ts',
      '13:15:03 build.generate │ wrote src/b.ts',
      '13:15:03 ✓ build.generate succeeded 800ms',
      '13:15:03 ▶ build.test started',
      '13:15:04 build.test │ FAIL a.test.ts',
      '13:15:04 build.test │ 1 failed',
      '13:15:04 ✗ build.test failed (exit_code: exit code 1) 300ms',
      '13:15:04 ↻ build iteration 2/4',
      '13:15:04 ▶ build.generate started',
      '13:15:05 ✓ build.generate succeeded 1.0s',
      '13:15:05 ▶ build.test started',
      '13:15:05 ✓ build.test succeeded 300ms',
      '13:15:05 ✓ build succeeded 100ms',
      '13:15:05 ⚠ budget tokens at 85%: 1.7M of 2.0M',
      '13:15:05 ▶ deploy started',
      '13:15:05 ? deploy waiting for approval: Ship it?',
    ]);
    expect(lines.slice(23, 25)).toEqual([
      '13:15:05 ? answer with: factory approve r1 deploy',
      '13:15:10 ✗ deploy error (timeout: no answer within 5s) 5.0s',
    ]);
    // The summary follows the run's end at once; close() does not print it again.
    expect(lines.slice(25)).toEqual([
      '',
      'stage                         status       duration  tokens     cost  reason',
      'plan                          ✓ succeeded      1.4s    1.2k  $0.0123',
      'build (2 iterations)          ✓ succeeded     100ms       -        -',
      'build.generate (iteration 2)  ✓ succeeded      1.0s       -        -',
      'build.test (iteration 2)      ✓ succeeded     300ms       -        -',
      'deploy                        ✗ error          5.0s       -        -  timeout: no answer within 5s',
      '⚠ budget tokens at 85%: 1.7M of 2.0M',
      '✗ run error · exit 1 · 11.0s · 1.2k tokens · $0.0123 · record .factory/runs/r1',
      '',
    ]);
    const before = io.stderr.text;
    await renderer.close();
    expect(io.stderr.text).toBe(before);
    expect(io.stdout.text).toBe('');
  });

  it('shows cached and skipped stages with their reason, without a duration', async () => {
    const { io } = render((s) => {
      s.started([{ path: 'lint', kind: 'command' }, { path: 'docs', kind: 'command' }]);
      s.finished('lint', 'succeeded', 0, { cached: true });
      s.finished('docs', 'skipped', 0, { reason: 'if', message: 'condition was false' });
      s.runFinished('succeeded', 0, 20);
    });
    const lines = io.stderr.text.split('\n');
    expect(lines.slice(1, 3)).toEqual([
      '13:15:00 ✓ lint succeeded (cached)',
      '13:15:00 ↓ docs skipped (if: condition was false)',
    ]);
    // No stage used tokens: no tokens and cost columns.
    expect(lines.slice(3)).toEqual([
      '',
      'stage  status       duration  reason',
      'lint   ✓ succeeded       0ms  cached',
      'docs   ↓ skipped              if: condition was false',
      '✓ run succeeded · exit 0 · 20ms · record .factory/runs/r1',
      '',
    ]);
  });

  it('flushes an unfinished output line when its stage ends, and keeps empty lines', () => {
    const { io } = render((s) => {
      s.started([{ path: 'a', kind: 'command' }, { path: 'b', kind: 'command' }]);
      s.stageStarted('a');
      s.stageStarted('b');
      s.output('a', 'one\n\nthree without newline');
      s.output('b', 'progress 10%\rprogress 100%\n', 1000);
      s.finished('a', 'succeeded', 1000);
      s.finished('b', 'succeeded', 0);
    });
    expect(io.stderr.text.split('\n').slice(3, 9)).toEqual([
      '13:15:00 a │ one',
      '13:15:00 a │',
      '13:15:01 b │ progress 100%',
      '13:15:02 a │ three without newline',
      '13:15:02 ✓ a succeeded 1.0s',
      '13:15:02 ✓ b succeeded 0ms',
    ]);
  });

  it('prints the summary on close when the run never finished', async () => {
    const { io, renderer } = render((s) => {
      s.started([{ path: 'a', kind: 'command' }, { path: 'b', kind: 'command', needs: ['a'] }]);
      s.stageStarted('a');
      s.output('a', 'half a line');
    });
    await renderer.close();
    expect(io.stderr.text.split('\n').slice(2)).toEqual([
      '13:15:00 a │ half a line',
      '',
      'stage  status         duration  reason',
      'a      ⊘ interrupted',
      'b      · not run',
      '⚠ run did not finish',
      '',
    ]);
  });

  it('prints one summary per run in watch mode, and the changed paths', async () => {
    const io = fakeIO();
    const renderer = new PlainRenderer(io, { utc: true });
    const first = new Script('r1');
    first.started([{ path: 'a', kind: 'command' }]);
    first.finished('a', 'succeeded', 100);
    first.runFinished('succeeded', 0, 100);
    first.push({ type: 'watch_change', time: first.at(5000), run: 'r1', paths: ['a.ts', 'b.ts', 'c.ts', 'd.ts'] });
    const second = new Script('r2', Date.UTC(2026, 0, 2, 13, 16, 0));
    second.started([{ path: 'a', kind: 'command' }]);
    second.finished('a', 'failed', 100, { reason: 'exit_code', message: 'exit code 2' });
    second.runFinished('failed', 1, 100);
    for (const e of [...first.events, ...second.events]) renderer.emit(e);
    await renderer.close();
    const text = io.stderr.text;
    expect(text).toContain('13:15:05 ⟳ changed: a.ts, b.ts, c.ts (+1 more)\n');
    expect(text.match(/^stage {2}/gm)).toHaveLength(2);
    expect(text).toContain('✓ run succeeded · exit 0 · 100ms · record .factory/runs/r1\n');
    expect(text).toContain('a      ✗ failed     100ms  exit_code: exit code 2\n✗ run failed · exit 1 · 100ms · record .factory/runs/r2\n');
  });

  it('colours with FORCE_COLOR and never with NO_COLOR, stripping colour from stage output too', () => {
    const events = (s: Script) => {
      s.started([{ path: 'a', kind: 'command' }]);
      s.stageStarted('a');
      s.output('a', '\u001b[31mred\u001b[39m\n');
      s.finished('a', 'failed', 10, { reason: 'exit_code' });
      s.runFinished('failed', 1, 10);
    };
    const coloured = render(events, { FORCE_COLOR: '1' }).io.stderr.text;
    expect(coloured).toContain('\u001b[31m✗ a failed\u001b[39m');
    expect(coloured).toContain('\u001b[31mred\u001b[39m');
    const bare = render(events, { FORCE_COLOR: '1', NO_COLOR: '1' }).io.stderr.text;
    expect(bare).not.toContain('\u001b');
    expect(bare).toContain('a │ red\n');
  });

  it('uses the palette it is given', () => {
    const io = fakeIO();
    const renderer = new PlainRenderer(io, { utc: true, colors: palette(true) });
    const s = new Script();
    renderer.emit(s.started([]));
    expect(io.stderr.text).toBe('\u001b[2m13:15:00\u001b[22m \u001b[36m▶\u001b[39m run demo started (run r1, 0 stages)\n');
  });

  it('a loop inside a loop: the inner loop starts again in each outer iteration, a nested stage named by its chain', () => {
    const nested = [
      { path: 'outer', kind: 'loop', max_iterations: 2 },
      { path: 'outer.inner', kind: 'loop', max_iterations: 2 },
      { path: 'outer.inner.ask', kind: 'plan' },
    ];
    const { io } = render((s) => {
      s.started(nested);
      s.stageStarted('outer');
      for (const [o, rounds] of [[1, 2], [2, 1]] as const) {
        s.stageStarted('outer.inner', 0, { iteration: o });
        for (let i = 1; i <= rounds; i++) {
          s.stageStarted('outer.inner.ask', 0, { iteration: [o, i] });
          s.finished('outer.inner.ask', 'succeeded', 100, { iteration: [o, i] });
        }
        s.finished('outer.inner', 'succeeded', 100, { iteration: o });
      }
      s.finished('outer', 'succeeded', 100);
      s.runFinished('succeeded', 0, 1000, usage(0, 0), 0);
    });
    const text = io.stderr.text;
    expect(text.match(/↻ outer\.inner iteration \d\/2/g)).toEqual(['↻ outer.inner iteration 1/2', '↻ outer.inner iteration 2/2', '↻ outer.inner iteration 1/2']);
    expect(text.match(/↻ outer iteration \d\/2/g)).toEqual(['↻ outer iteration 1/2', '↻ outer iteration 2/2']);
    expect(text).toContain('outer.inner.ask (iteration [2, 1])');
    // The inner loop's row counts the iterations of its last run (in outer iteration 2).
    expect(text).toContain('outer.inner (1 iteration)');
    expect(text).toContain('outer (2 iterations)');
  });
});
