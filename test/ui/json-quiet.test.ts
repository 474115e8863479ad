import { describe, expect, it } from 'vitest';
import { chooseMode, createRenderer, JsonRenderer, PlainRenderer, QuietRenderer } from '../../src/ui/index.js';
import { TtyRenderer } from '../../src/ui/listr.js';
import { fakeIO, Script, usage } from './fake-io.js';

function failingRun(): Script {
  const s = new Script();
  s.started([{ path: 'plan', kind: 'plan' }, { path: 'test', kind: 'command', needs: ['plan'] }, { path: 'review', kind: 'review', needs: ['plan'] }]);
  s.stageStarted('plan', 0, { kind: 'plan' });
  s.output('plan', 'thinking\n');
  s.modelCall('plan', usage(10, 20), 0.001);
  s.finished('plan', 'succeeded', 1000, { usage: usage(10, 20), cost: 0.001 });
  s.stageStarted('test');
  s.stageStarted('review', 0, { kind: 'review' });
  s.finished('test', 'failed', 300, { reason: 'exit_code', message: 'exit code 1' });
  s.finished('review', 'error', 2000, { reason: 'provider', message: 'overloaded after 3 retries' });
  s.runFinished('error', 1, 3300, usage(10, 20), 0.001);
  return s;
}

describe('json renderer', () => {
  it('writes every event as one JSON object per line on stdout, equal to the event', async () => {
    const io = fakeIO();
    const renderer = await createRenderer('json', io);
    const s = failingRun();
    s.output('plan', 'a "quoted"\nline\u0000 with NUL');
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    const lines = io.stdout.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(s.events.length);
    expect(lines.map((l) => JSON.parse(l))).toEqual(s.events);
    expect(io.stderr.text).toBe('');
  });
});

describe('quiet renderer', () => {
  it('prints stage errors and, for a run that did not succeed, the summary', async () => {
    const io = fakeIO();
    const renderer = await createRenderer('quiet', io);
    for (const e of failingRun().events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text).toBe(
      [
        '✗ review error (provider: overloaded after 3 retries) 2.0s',
        '',
        'stage   status       duration  tokens     cost  reason',
        'plan    ✓ succeeded      1.0s      30  $0.0010',
        'test    ✗ failed        300ms       -        -  exit_code: exit code 1',
        'review  ✗ error          2.0s       -        -  provider: overloaded after 3 retries',
        '✗ run error · exit 1 · 3.3s · 30 tokens · $0.0010 · record .factory/runs/r1',
        '',
      ].join('\n'),
    );
    expect(io.stdout.text).toBe('');
  });

  it('prints nothing for a run that succeeded', async () => {
    const io = fakeIO();
    const renderer = await createRenderer('quiet', io);
    const s = new Script();
    s.started([{ path: 'a', kind: 'command' }]);
    s.stageStarted('a');
    s.output('a', 'hello\n');
    s.budgetWarning('a', 'tokens', 90, 100);
    s.finished('a', 'succeeded', 5);
    s.runFinished('succeeded', 0, 5);
    for (const e of s.events) renderer.emit(e);
    await renderer.close();
    expect(io.stderr.text).toBe('');
    expect(io.stdout.text).toBe('');
  });

  it('still tells about an approval it waits for', () => {
    const io = fakeIO();
    const renderer = new QuietRenderer(io);
    const s = new Script();
    renderer.emit(s.started([{ path: 'ship', kind: 'approve' }]));
    renderer.emit(s.approval('ship', 'Deploy?', 'factory approve r1 ship'));
    expect(io.stderr.text).toBe('? ship waiting for approval: Deploy?\n? answer with: factory approve r1 ship\n');
  });

  it('prints the summary of a run that never finished', async () => {
    const io = fakeIO();
    const renderer = new QuietRenderer(io);
    const s = new Script();
    renderer.emit(s.started([{ path: 'a', kind: 'command' }]));
    renderer.emit(s.stageStarted('a'));
    await renderer.close();
    expect(io.stderr.text).toContain('⚠ run did not finish\n');
  });
});

describe('chooseMode and createRenderer', () => {
  const tty = (env: NodeJS.ProcessEnv) => fakeIO({ tty: true, env });

  it('prefers --json, then --quiet', () => {
    expect(chooseMode(tty({}), { json: true, quiet: true })).toBe('json');
    expect(chooseMode(tty({}), { quiet: true })).toBe('quiet');
  });

  it('draws the tree only on an interactive terminal outside CI', () => {
    expect(chooseMode(tty({ TERM: 'xterm-256color' }), {})).toBe('tty');
    expect(chooseMode(tty({ CI: 'true' }), {})).toBe('plain');
    expect(chooseMode(tty({ CI: '1' }), {})).toBe('plain');
    expect(chooseMode(tty({ TERM: 'dumb' }), {})).toBe('plain');
    expect(chooseMode(fakeIO(), {})).toBe('plain');
    expect(chooseMode(tty({ CI: '' }), {})).toBe('tty');
    expect(chooseMode(fakeIO({ tty: true, columns: 0 }), {})).toBe('plain');
  });

  it('creates the renderer of each mode', async () => {
    const io = fakeIO();
    expect(await createRenderer('tty', io)).toBeInstanceOf(TtyRenderer);
    expect(await createRenderer('plain', io)).toBeInstanceOf(PlainRenderer);
    expect(await createRenderer('json', io)).toBeInstanceOf(JsonRenderer);
    expect(await createRenderer('quiet', io)).toBeInstanceOf(QuietRenderer);
  });
});
