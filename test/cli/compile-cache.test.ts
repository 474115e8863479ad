/**
 * The code cache the bundle loads its single-file commands through (src/cli/compile-cache.ts):
 * written after the first run, used by the next, refused by V8 and rewritten when it does not
 * fit, never used for a changed file, and off with NODE_DISABLE_COMPILE_CACHE. Each load runs in
 * a process of its own, as the CLI does: within one process V8 would reuse its own compilation.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMONJS_WRAPPER, compileCacheDir } from '../../src/cli/compile-cache.js';
import { ROOT } from '../support/cli.js';

const MODULE = path.join(ROOT, 'dist/cli/compile-cache.js');

let tmp: string;
let file: string;
let dir: string;
beforeEach(() => {
  tmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-compile-cache-')));
  file = path.join(tmp, 'mod.cjs');
  dir = path.join(tmp, 'cache');
  writeFileSync(file, "const path = require('node:path');\nexports.answer = () => 42;\nexports.where = () => [path.basename(__filename), path.basename(__dirname)];\n");
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

interface Load {
  fromCache: boolean;
  answer?: number;
  where?: string[];
  error?: string;
}

/** Loads `file` in a new process (dist/cli/compile-cache.js: `npm run build` must have run), then saves. */
function load(cacheDir: string | undefined, succeeded = true): Load {
  const script = `
    import { loadCommonJS } from ${JSON.stringify(MODULE)};
    try {
      const loaded = loadCommonJS(${JSON.stringify(file)}, { name: 'cmd-test', hash: 'abc123' }, ${JSON.stringify(cacheDir)});
      loaded.save(${succeeded});
      console.log(JSON.stringify({ fromCache: loaded.fromCache, answer: loaded.exports.answer(), where: loaded.exports.where?.() }));
    } catch (e) {
      console.log(JSON.stringify({ fromCache: false, error: e.message }));
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Load;
}

const caches = () => readdirSync(dir).filter((f) => f.endsWith('.v8'));

describe('loadCommonJS', () => {
  it('runs the file as CommonJS (exports, require, __filename, __dirname), with no cache folder too', () => {
    expect(load(undefined)).toEqual({ fromCache: false, answer: 42, where: ['mod.cjs', path.basename(tmp)] });
  });

  it('runs a file the build wrote inside the module wrapper the same way, and caches it', () => {
    writeFileSync(file, `${COMMONJS_WRAPPER.head}${readFileSync(file, 'utf8')}${COMMONJS_WRAPPER.tail}`);
    expect(load(dir)).toEqual({ fromCache: false, answer: 42, where: ['mod.cjs', path.basename(tmp)] });
    expect(load(dir)).toEqual({ fromCache: true, answer: 42, where: ['mod.cjs', path.basename(tmp)] });
  });

  it('writes the cache after the first load; the next load starts from it and writes nothing', () => {
    expect(load(dir).fromCache).toBe(false);
    const [written] = caches();
    expect(written).toMatch(/^cmd-test-[0-9a-f]{8}-abc123-\d+-\d+\.v8$/);
    const before = readFileSync(path.join(dir, written!));
    expect(load(dir)).toMatchObject({ fromCache: true, answer: 42 });
    expect(caches()).toEqual([written]);
    expect(readFileSync(path.join(dir, written!)).equals(before)).toBe(true);
  });

  it('a run that did not succeed writes a partial cache, which the next run that succeeds starts from and replaces', () => {
    expect(load(dir, false).fromCache).toBe(false);
    const [partial] = caches();
    expect(partial).toMatch(/^cmd-test-[0-9a-f]{8}-abc123-\d+-\d+-partial\.v8$/);
    // Another failure leaves it as it is.
    expect(load(dir, false)).toMatchObject({ fromCache: true, answer: 42 });
    expect(caches()).toEqual([partial]);
    expect(load(dir, true)).toMatchObject({ fromCache: true, answer: 42 });
    const [complete] = caches();
    expect(complete).toBe(partial!.replace('-partial', ''));
    const before = readFileSync(path.join(dir, complete!));
    // A complete cache stays, whatever the later runs do.
    expect(load(dir, false)).toMatchObject({ fromCache: true, answer: 42 });
    expect(load(dir, true)).toMatchObject({ fromCache: true, answer: 42 });
    expect(caches()).toEqual([complete]);
    expect(readFileSync(path.join(dir, complete!)).equals(before)).toBe(true);
  });

  it('a cache V8 refuses (garbage) is rewritten, and the file still runs', () => {
    load(dir);
    const [written] = caches();
    writeFileSync(path.join(dir, written!), 'not a code cache');
    expect(load(dir)).toMatchObject({ fromCache: false, answer: 42 });
    expect(readFileSync(path.join(dir, written!), 'utf8')).not.toBe('not a code cache');
    expect(load(dir)).toMatchObject({ fromCache: true, answer: 42 });
  });

  it('a file changed after its cache was written gets a cache of its own, and the old one is dropped', () => {
    load(dir);
    const [first] = caches();
    // Same length, other text, later time: the old bytecode must not be used.
    writeFileSync(file, readFileSync(file, 'utf8').replace('42', '43'));
    const later = new Date(Date.now() + 5000);
    utimesSync(file, later, later);
    expect(load(dir)).toMatchObject({ fromCache: false, answer: 43 });
    expect(caches()).toHaveLength(1);
    expect(caches()[0]).not.toBe(first);
  });

  it('two installs sharing the cache folder keep their own caches: neither drops the other\'s', () => {
    const first = file;
    load(dir);
    mkdirSync(path.join(tmp, 'other'));
    file = path.join(tmp, 'other', 'mod.cjs');
    writeFileSync(file, readFileSync(first, 'utf8').replace('42', '44'));
    expect(load(dir)).toMatchObject({ fromCache: false, answer: 44 });
    expect(caches()).toHaveLength(2);
    file = first;
    expect(load(dir)).toMatchObject({ fromCache: true, answer: 42 });
    file = path.join(tmp, 'other', 'mod.cjs');
    expect(load(dir)).toMatchObject({ fromCache: true, answer: 44 });
  });

  it("another install's cache not written for 30 days is dropped when a cache is written; a recent one stays", () => {
    mkdirSync(dir, { recursive: true });
    const forgotten = path.join(dir, 'cmd-test-deadbeef-abc-1-1.v8');
    const recent = path.join(dir, 'cmd-test-cafebabe-abc-1-1.v8');
    writeFileSync(forgotten, 'old');
    writeFileSync(recent, 'new');
    const longAgo = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    utimesSync(forgotten, longAgo, longAgo);
    expect(load(dir)).toMatchObject({ fromCache: false, answer: 42 });
    expect(caches()).toContain(path.basename(recent));
    expect(caches()).not.toContain(path.basename(forgotten));
    expect(caches()).toHaveLength(2);
  });

  it('an error of the file itself is not swallowed', () => {
    writeFileSync(file, "throw new Error('boom');\n");
    expect(load(dir).error).toBe('boom');
  });

  it('a folder that cannot be written only means no cache', () => {
    writeFileSync(path.join(tmp, 'blocker'), '');
    expect(load(path.join(tmp, 'blocker', 'cache'))).toMatchObject({ fromCache: false, answer: 42 });
  });
});

describe('compileCacheDir', () => {
  it('is off with NODE_DISABLE_COMPILE_CACHE, follows NODE_COMPILE_CACHE, then XDG_CACHE_HOME, per Node version', () => {
    expect(compileCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1', XDG_CACHE_HOME: '/x' })).toBeUndefined();
    const version = `v8-${process.version}-${process.arch}`;
    expect(compileCacheDir({ NODE_COMPILE_CACHE: '/n', XDG_CACHE_HOME: '/x' })).toBe(path.join('/n', 'factory', version));
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.join('/x', 'factory', version));
    expect(compileCacheDir({})).toMatch(new RegExp(`[\\\\/]\\.cache[\\\\/]factory[\\\\/]${version.replace(/\./g, '\\.')}$`));
  });
});
