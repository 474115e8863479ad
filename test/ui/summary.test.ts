import { describe, expect, it } from 'vitest';
import { palette, stripAnsi } from '../../src/ui/format.js';
import { SummaryCollector } from '../../src/ui/summary.js';
import { Script, usage } from './fake-io.js';

function collect(build: (s: Script) => void): SummaryCollector {
  const s = new Script();
  build(s);
  const summary = new SummaryCollector();
  for (const e of s.events) summary.emit(e);
  return summary;
}

describe('summary', () => {
  it('shows the last iteration of a loop body, the iteration count, and token columns when used', () => {
    const summary = collect((s) => {
      s.started([
        { path: 'build', kind: 'loop', max_iterations: 3 },
        { path: 'build.generate', kind: 'generate' },
        { path: 'build.review', kind: 'review' },
      ]);
      s.finished('build.generate', 'succeeded', 2000, { iteration: 1, usage: usage(1000, 500), cost: 0.01 });
      s.finished('build.review', 'failed', 900, { iteration: 1, reason: 'review', message: 'asked for changes', usage: usage(400, 100), cost: 0.004 });
      s.finished('build.generate', 'succeeded', 3000, { iteration: 2, usage: usage(2000, 700), cost: 0.02 });
      s.finished('build.review', 'succeeded', 800, { iteration: 2, usage: usage(500, 100), cost: 0.005 });
      s.finished('build', 'succeeded', 6700, { usage: usage(3900, 1400), cost: 0.039 });
      s.runFinished('succeeded', 0, 6800, usage(3900, 1400), 0.039);
    });
    expect(summary.render(palette(false))).toBe(
      [
        '',
        'stage                         status       duration  tokens     cost  reason',
        'build (2 iterations)          ✓ succeeded      6.7s    5.3k  $0.0390',
        'build.generate (iteration 2)  ✓ succeeded      3.0s    2.7k  $0.0200',
        'build.review (iteration 2)    ✓ succeeded     800ms     600  $0.0050',
        '✓ run succeeded · exit 0 · 6.8s · 5.3k tokens · $0.0390 · record .factory/runs/r1',
        '',
      ].join('\n'),
    );
    const rows = summary.rows();
    expect(rows.map((r) => [r.path, r.status, r.iteration, r.iterations])).toEqual([
      ['build', 'succeeded', undefined, 2],
      ['build.generate', 'succeeded', 2, undefined],
      ['build.review', 'succeeded', 2, undefined],
    ]);
  });

  it('cuts the reason to the width of the terminal', () => {
    const summary = collect((s) => {
      s.started([{ path: 'test', kind: 'command' }]);
      s.finished('test', 'failed', 100, { reason: 'exit_code', message: 'exit code 1 after a very long explanation that would wrap' });
      s.runFinished('failed', 1, 100);
    });
    const lines = summary.render(palette(false), 50).split('\n');
    expect(lines[2]).toBe('test   ✗ failed     100ms  exit_code: exit code 1…');
    expect(lines[2]).toHaveLength(50);
  });

  it('says which budget was exhausted, spent against limit, and colours only on request', () => {
    const summary = collect((s) => {
      s.started([{ path: 'gen', kind: 'generate' }]);
      s.budgetWarning('gen', 'cost_usd', 0.85, 1);
      s.finished('gen', 'error', 100, { reason: 'budget', message: 'cost_usd budget of gen exhausted: $1.02 of $1.00', usage: usage(10, 10), cost: 1.02 });
      s.runFinished('error', 3, 100, usage(10, 10), 1.02);
    });
    const coloured = summary.render(palette(true));
    expect(coloured).toContain('\u001b[31m✗ error\u001b[39m');
    const text = stripAnsi(coloured);
    expect(text).toContain('gen    ✗ error     100ms      20  $1.02  budget: cost_usd budget of gen exhausted: $1.02 of $1.00\n');
    expect(text).toContain('⚠ budget cost_usd at 85%: $0.8500 of $1.00 (stage gen)\n');
    expect(text).toContain('✗ run error · exit 3 ·');
    expect(summary.render(palette(false))).not.toContain('\u001b');
  });

  it('lists stages the engine did not announce and renders nothing before any event', () => {
    const summary = new SummaryCollector();
    expect(summary.render(palette(false))).toBe('');
    const s = new Script();
    summary.emit(s.started([{ path: 'a', kind: 'command' }]));
    summary.emit(s.finished('a.inner', 'succeeded', 5));
    expect(summary.rows().map((r) => `${r.path}:${r.status}`)).toEqual(['a:not run', 'a.inner:succeeded']);
  });
});
