import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { requireBuild, type Running, start, until } from '../../support/cli.js';

/**
 * `apply --watch` with a real chokidar watcher: a folder the run itself created (`mkdir -p gen`
 * before writing gen/stamp) is the run's own write and never triggers a rerun; a folder made
 * by someone else, with a file in it, still does.
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

type Event = Record<string, unknown> & { type: string };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PIPELINE = `version: 1
name: folders
watch: { debounce: 100ms, paths: ["gen/**", "more/**"] }
stages:
  s: { kind: command, run: "mkdir -p gen/deep; date +%s%N > gen/deep/stamp" }
  d: { kind: command, run: echo d }
`;

describe('apply --watch and folders', () => {
  test('a folder the run created is its own write: no rerun; a folder someone else makes with a file in it is a change', async () => {
    const dir = tempWorkspace('factory-watch-folders-');
    writeFileSync(path.join(dir, 'factory.yaml'), PIPELINE);
    const s = start(['apply', '--watch', '--json'], dir, { CI: '1' });
    running.push(s);
    const events = () => s.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
    const count = (type: string) => events().filter((e) => e.type === type).length;
    await s.waitFor((e) => e.type === 'run_finished');
    // Well past the debounce and chokidar's delivery of the folder events.
    await sleep(1500);
    expect(events().filter((e) => e.type === 'watch_change')).toEqual([]);
    expect(count('run_started')).toBe(1);

    mkdirSync(path.join(dir, 'more'));
    writeFileSync(path.join(dir, 'more', 'note.md'), 'note\n');
    await until(() => count('run_finished') === 2);
    const change = events().find((e) => e.type === 'watch_change')!;
    expect(change.paths as string[]).toContain('more/note.md');
    // The second run created nothing new (gen/ is there), and wrote gen/deep/stamp again: its own.
    await sleep(1500);
    expect(count('run_started')).toBe(2);
    s.child.kill('SIGINT');
    expect((await s.done).code).toBe(130);
  });
});
