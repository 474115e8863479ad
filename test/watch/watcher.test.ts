import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { hashText } from '../../src/engine/cache/fingerprint.js';
import { ChangeWatcher, watchRoots } from '../../src/watch/watcher.js';

const open: ChangeWatcher[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

function workspace(): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-watch-')));
  writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\n');
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'a.txt'), 'a\n');
  mkdirSync(path.join(dir, 'node_modules', 'pkg'), { recursive: true });
  return dir;
}

async function watching(dir: string, extra: Partial<ConstructorParameters<typeof ChangeWatcher>[0]> = {}) {
  const batches: string[][] = [];
  const w = new ChangeWatcher({ workspace: dir, files: ['factory.yaml'], globs: ['src/**/*.txt'], ignore: ['src/ignored/**'], debounceMs: 150, ...extra }, (paths) => batches.push(paths));
  open.push(w);
  await w.start();
  return { w, batches };
}

/** Waits until `batches` has `n` entries, or fails after a generous bound (no timing is asserted). */
async function until(batches: unknown[], n: number, bound = 5000): Promise<void> {
  const start = Date.now();
  while (batches.length < n) {
    if (Date.now() - start > bound) throw new Error(`expected ${n} batches, got ${batches.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Lets the watcher settle, to check that nothing more arrives. */
const quiet = (ms = 600) => new Promise((r) => setTimeout(r, ms));

describe('ChangeWatcher', () => {
  test('a burst of writes to watched files is one change listing every path', async () => {
    const dir = workspace();
    const { batches } = await watching(dir);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, 'src', 'a.txt'), `a${i}\n`);
    writeFileSync(path.join(dir, 'src', 'b.txt'), 'b\n');
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\n# edited\n');
    await until(batches, 1);
    await quiet();
    expect(batches).toEqual([['factory.yaml', 'src/a.txt', 'src/b.txt']]);
  });

  test('files outside the globs, ignored globs, node_modules and .factory never count', async () => {
    const dir = workspace();
    const { batches } = await watching(dir);
    mkdirSync(path.join(dir, 'src', 'ignored'));
    mkdirSync(path.join(dir, '.factory'));
    writeFileSync(path.join(dir, 'src', 'ignored', 'x.txt'), 'x');
    writeFileSync(path.join(dir, 'src', 'a.md'), 'not a txt');
    writeFileSync(path.join(dir, 'node_modules', 'pkg', 'y.txt'), 'y');
    writeFileSync(path.join(dir, '.factory', 'z.txt'), 'z');
    writeFileSync(path.join(dir, 'src', 'a.txt'), 'changed\n');
    await until(batches, 1);
    await quiet();
    expect(batches).toEqual([['src/a.txt']]);
  });

  test("the run's own writes are suppressed by content; a later edit by someone else counts", async () => {
    const dir = workspace();
    const { w, batches } = await watching(dir);
    w.suppress([{ path: 'src/gen.txt', hash: hashText('generated\n') }]);
    writeFileSync(path.join(dir, 'src', 'gen.txt'), 'generated\n');
    await quiet();
    expect(batches).toEqual([]);
    writeFileSync(path.join(dir, 'src', 'gen.txt'), 'edited by a person\n');
    await until(batches, 1);
    expect(batches).toEqual([['src/gen.txt']]);
  });

  test('a file deleted and recreated (an editor saving by rename) is seen as a change', async () => {
    const dir = workspace();
    const { batches } = await watching(dir);
    writeFileSync(path.join(dir, 'src', '.a.txt.swp'), 'new content\n');
    rmSync(path.join(dir, 'src', 'a.txt'));
    renameSync(path.join(dir, 'src', '.a.txt.swp'), path.join(dir, 'src', 'a.txt'));
    await until(batches, 1);
    expect(batches[0]).toContain('src/a.txt');
  });

  test('thousands of files under a watched folder are fine', async () => {
    const dir = workspace();
    mkdirSync(path.join(dir, 'src', 'many'));
    for (let i = 0; i < 3000; i++) writeFileSync(path.join(dir, 'src', 'many', `f${i}.txt`), String(i));
    const { batches } = await watching(dir);
    writeFileSync(path.join(dir, 'src', 'many', 'f1234.txt'), 'changed');
    await until(batches, 1);
    expect(batches).toEqual([['src/many/f1234.txt']]);
  });

  test('watch roots are the static bases of the globs plus the exact files', () => {
    const dir = workspace();
    mkdirSync(path.join(dir, 'scenarios'));
    const templates = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-watch-tpl-')));
    const roots = watchRoots({ workspace: dir, files: ['factory.yaml', path.join(templates, 'x.yaml')], globs: ['src/**/*.ts', 'scenarios/*.yaml', 'docs/*.md', 'notes.txt'], ignore: [], debounceMs: 1 });
    // Named files: their folder, one level deep; globs: their base, recursively; a missing base: its parent, recursively.
    expect(roots).toEqual({ shallow: [templates], deep: [dir] });
    expect(watchRoots({ workspace: dir, files: ['factory.yaml'], globs: ['src/**/*.ts', 'scenarios/*.yaml', 'notes.txt'], ignore: [], debounceMs: 1 })).toEqual({
      shallow: [dir],
      deep: [path.join(dir, 'scenarios'), path.join(dir, 'src')],
    });
  });
});
