import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { requireBuild, type Running, start, until } from '../../support/cli.js';

/**
 * `apply --watch` through the built CLI, with real files and real chokidar events in temp
 * folders: the CLI is spawned with `--json`, its events read from stdout, and it is stopped
 * with SIGINT as Ctrl-C would.
 */
beforeAll(requireBuild);

const running: Running[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await s.done;
    }
  }
});

function workspace(yaml: string, files: Record<string, string> = {}): string {
  const dir = tempWorkspace('factory-watch-cli-');
  writeFileSync(path.join(dir, 'factory.yaml'), yaml);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

type Event = Record<string, unknown> & { type: string };

function watch(dir: string, ...flags: string[]): Running & { events(): Event[]; count(type: string): number; runs(): Event[][] } {
  const s = start(['apply', '--watch', '--json', ...flags], dir, { CI: '1' });
  running.push(s);
  const events = () => s.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  return Object.assign(s, {
    events,
    count: (type: string) => events().filter((e) => e.type === type).length,
    /** Events grouped by run, in order. */
    runs: () => {
      const out: Event[][] = [];
      for (const e of events()) {
        if (e.type === 'run_started') out.push([]);
        if (e.type !== 'watch_change') out[out.length - 1]?.push(e);
      }
      return out;
    },
  });
}

const startedIn = (run: Event[]) => run.filter((e) => e.type === 'stage_started').map((e) => e.stage as string).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Nothing more happens for a while (chokidar and the debounce settle well within it). */
const settle = () => sleep(1200);

async function stop(s: Running): Promise<number | null> {
  s.child.kill('SIGINT');
  const { code } = await s.done;
  return code;
}

const PIPELINE = `version: 1
name: watched
watch: { debounce: 100ms, paths: ["notes/**"] }
stages:
  a: { kind: command, run: cat a.txt > gen/a.out, inputs: [a.txt] }
  b: { kind: command, needs: [a], run: cat gen/a.out, inputs: ["gen/**"] }
  c: { kind: command, run: cat c.txt, inputs: [c.txt] }
  stamp: { kind: command, run: date +%s%N > notes/stamp.txt }
`;

const FILES = { 'a.txt': 'a\n', 'c.txt': 'c\n', 'gen/.keep': '', 'notes/readme.md': 'notes\n' };

describe('apply --watch', () => {
  test('reruns after an edit: only the changed stage and its dependants run, the rest from the cache; Ctrl-C exits 130 with the run recorded', async () => {
    const dir = workspace(PIPELINE, FILES);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished');
    await settle();
    // Its own writes (gen/a.out is an input of b, notes/stamp.txt is under watch.paths) never trigger a rerun.
    expect(s.count('run_started')).toBe(1);
    writeFileSync(path.join(dir, 'c.txt'), 'c changed\n');
    await until(() => s.count('run_finished') === 2);
    const change = s.events().find((e) => e.type === 'watch_change')!;
    expect(change).toMatchObject({ paths: ['c.txt'] });
    expect((change.rerun as string[]).sort()).toEqual(['c', 'stamp']);
    const second = s.runs()[1]!;
    expect(startedIn(second)).toEqual(['c', 'stamp']);
    expect(second.filter((e) => e.type === 'stage_finished' && e.cached).map((e) => e.stage).sort()).toEqual(['a', 'b']);
    await settle();
    expect(s.count('run_started')).toBe(2);
    expect(s.stderr()).toContain('watching for changes');
    expect(await stop(s)).toBe(130);
  });

  test('coalesces a burst of writes into one rerun', async () => {
    // A debounce long enough for a loaded test machine to deliver the whole burst within it.
    const dir = workspace(PIPELINE.replace('debounce: 100ms', 'debounce: 500ms'), FILES);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished');
    for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, 'a.txt'), `a${i}\n`);
    writeFileSync(path.join(dir, 'notes', 'idea.md'), 'idea\n');
    await until(() => s.count('run_finished') === 2);
    await settle();
    expect(s.events().filter((e) => e.type === 'watch_change').map((e) => e.paths)).toEqual([['a.txt', 'notes/idea.md']]);
    expect(s.count('run_started')).toBe(2);
    expect(s.events().find((e) => e.type === 'watch_change')).toMatchObject({ paths: ['a.txt', 'notes/idea.md'] });
    expect(startedIn(s.runs()[1]!)).toEqual(['a', 'b', 'stamp']);
    expect(readFileSync(path.join(dir, 'gen', 'a.out'), 'utf8')).toBe('a19\n');
    expect(await stop(s)).toBe(130);
  });

  test('an invalid edit prints the diagnostic and keeps watching; fixing it runs again', async () => {
    const dir = workspace(PIPELINE, FILES);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished');
    const good = readFileSync(path.join(dir, 'factory.yaml'), 'utf8');
    writeFileSync(path.join(dir, 'factory.yaml'), `${good}  d: { kind: command, needs: [nope], run: echo d }\n`);
    await until(() => s.stderr().includes('watching for a fix to factory.yaml'));
    expect(s.stderr()).toMatch(/factory\.yaml:\d+:\d+ error .*"nope"/);
    await settle();
    expect(s.count('run_started')).toBe(1);
    writeFileSync(path.join(dir, 'factory.yaml'), `${good}  d: { kind: command, needs: [c], run: echo d }\n`);
    await until(() => s.count('run_finished') === 2);
    expect(startedIn(s.runs()[1]!)).toEqual(['d', 'stamp']);
    expect(s.stderr()).not.toContain('    at ');
    expect(await stop(s)).toBe(130);
  });

  test('a watched file deleted and recreated (as editors save) reruns once', async () => {
    const dir = workspace(PIPELINE, FILES);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished');
    rmSync(path.join(dir, 'c.txt'));
    await sleep(20);
    writeFileSync(path.join(dir, 'c.txt'), 'c again\n');
    await until(() => s.count('run_finished') === 2);
    await settle();
    expect(s.count('run_started')).toBe(2);
    expect(startedIn(s.runs()[1]!)).toEqual(['c', 'stamp']);
    expect(await stop(s)).toBe(130);
  });

  test('factory.yaml renamed away: says it is gone and waits for it to come back', async () => {
    const dir = workspace(PIPELINE, FILES);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished');
    renameSync(path.join(dir, 'factory.yaml'), path.join(dir, 'factory.yaml.bak'));
    await until(() => s.stderr().includes('factory.yaml is gone; watching for it to come back'));
    await settle();
    expect(s.count('run_started')).toBe(1);
    renameSync(path.join(dir, 'factory.yaml.bak'), path.join(dir, 'factory.yaml'));
    await until(() => s.count('run_finished') === 2);
    expect(startedIn(s.runs()[1]!)).toEqual(['stamp']);
    expect(await stop(s)).toBe(130);
  });

  test('a change to the pipeline while a stage runs cancels it (its process killed) and applies again', async () => {
    const dir = workspace(`version: 1
watch: { debounce: 50ms }
stages:
  slow: { kind: command, run: "sleep 30", inputs: [] }
`);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'stage_started' && e.stage === 'slow');
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
watch: { debounce: 50ms }
stages:
  slow: { kind: command, run: "echo quick", inputs: [] }
`);
    await until(() => s.count('run_finished') === 2, 15_000);
    const [first, second] = s.runs();
    expect(first!.find((e) => e.type === 'stage_finished')).toMatchObject({ stage: 'slow', status: 'cancelled' });
    expect(second!.find((e) => e.type === 'stage_finished')).toMatchObject({ stage: 'slow', status: 'succeeded' });
    expect(await stop(s)).toBe(130);
  });

  test('an input edited while a stage that may write runs is not taken for the run\'s own write: it reruns once that stage ends', async () => {
    const dir = workspace(`version: 1
watch: { debounce: 50ms }
stages:
  slow: { kind: command, run: "sleep 1; cat in.txt > out.txt", inputs: [in.txt] }
`, { 'in.txt': 'one\n' });
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'stage_started');
    writeFileSync(path.join(dir, 'in.txt'), 'two\n');
    await until(() => s.count('run_finished') === 2, 15_000);
    expect(s.events().find((e) => e.type === 'watch_change')).toMatchObject({ paths: ['in.txt'], rerun: ['slow'] });
    expect(startedIn(s.runs()[1]!)).toEqual(['slow']);
    await settle();
    expect(s.count('run_started')).toBe(2);
    expect(readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('two\n');
    expect(await stop(s)).toBe(130);
  });

  test('Ctrl-C during a run cancels it, records it and exits 130', async () => {
    const dir = workspace(`version: 1
stages:
  slow: { kind: command, run: "sleep 30" }
`);
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'stage_started');
    expect(await stop(s)).toBe(130);
    const finished = s.events().find((e) => e.type === 'run_finished')!;
    expect(finished).toMatchObject({ status: 'cancelled', exit_code: 130 });
    const record = JSON.parse(readFileSync(path.join(finished.record as string, 'run.json'), 'utf8')) as { status: string; stages: Record<string, { status: string }> };
    expect(record).toMatchObject({ status: 'cancelled', stages: { slow: { status: 'cancelled' } } });
  });

  test('thousands of files under a watched folder: one edit is one rerun', async () => {
    const dir = workspace(`version: 1
watch: { debounce: 100ms, paths: ["data/**"] }
stages:
  count: { kind: command, run: "ls -R data | wc -l", inputs: ["data/**/*.txt"] }
`);
    for (let d = 0; d < 30; d++) {
      mkdirSync(path.join(dir, 'data', `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, 'data', `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
    }
    const s = watch(dir);
    await s.waitFor((e) => e.type === 'run_finished', 30_000);
    await settle();
    writeFileSync(path.join(dir, 'data', 'd17', 'f42.txt'), 'edited\n');
    await until(() => s.count('run_finished') === 2, 30_000);
    await settle();
    expect(s.count('run_started')).toBe(2);
    expect(s.events().find((e) => e.type === 'watch_change')).toMatchObject({ paths: ['data/d17/f42.txt'], rerun: ['count'] });
    expect(await stop(s)).toBe(130);
  }, 60_000);

  test('an invalid file at the start is reported and watched until it is fixed', async () => {
    const dir = workspace('version: 1\nstages:\n  a: { kind: command, run: echo a, needs: [b] }\n');
    const s = watch(dir);
    await until(() => s.stderr().includes('watching for a fix to factory.yaml'));
    expect(s.count('run_started')).toBe(0);
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  a: { kind: command, run: echo a }\n');
    await s.waitFor((e) => e.type === 'run_finished');
    expect(await stop(s)).toBe(130);
  });
});
