import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { cacheDir, pendingChanges, StageCache, workspaceFiles, type CacheEntry, type FileChange } from '../../../src/engine/cache/cache.js';
import { writeChanges } from '../../../src/engine/patches/patches.js';
import { canonicalJson, fingerprint, hashGlobs, hashText } from '../../../src/engine/cache/fingerprint.js';
import { ZERO_USAGE } from '../../../src/base/usage.js';

const ws = () => realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-cache-')));

function entry(fp: string, extra: Partial<CacheEntry> = {}): CacheEntry {
  return { version: 1, fingerprint: fp, stage: 'gen', kind: 'generate', outputs: { summary: 'done' }, usage: ZERO_USAGE, cost_usd: 0.01, changes: [], run: 'r1', created_at: '2026-11-26T00:00:00Z', ...extra };
}

describe('fingerprint', () => {
  const base = { kind: 'command', definition: { run: 'make', env: { A: '1', B: '2' } }, files: [{ path: 'a', hash: 'h' }], needs: { build: 'f1' }, model: 'm' };

  test('equal parts give equal fingerprints, whatever the key order', () => {
    expect(fingerprint(base)).toBe(fingerprint({ ...base, definition: { env: { B: '2', A: '1' }, run: 'make' } }));
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  test('any change of definition, file content, upstream fingerprint or model changes it', () => {
    const fp = fingerprint(base);
    expect(fingerprint({ ...base, definition: { run: 'make all', env: { A: '1', B: '2' } } })).not.toBe(fp);
    expect(fingerprint({ ...base, files: [{ path: 'a', hash: 'h2' }] })).not.toBe(fp);
    expect(fingerprint({ ...base, needs: { build: 'f2' } })).not.toBe(fp);
    expect(fingerprint({ ...base, model: 'other' })).not.toBe(fp);
  });

  test('file hashes follow content, not modification time, sorted by path', () => {
    const dir = ws();
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'src', 'b.ts'), 'b');
    writeFileSync(path.join(dir, 'src', 'a.ts'), 'a');
    const first = hashGlobs(['src/*.ts'], dir);
    expect(first.map((f) => f.path)).toEqual(['src/a.ts', 'src/b.ts']);
    writeFileSync(path.join(dir, 'src', 'a.ts'), 'a'); // touched, same content
    expect(hashGlobs(['src/*.ts'], dir)).toEqual(first);
    writeFileSync(path.join(dir, 'src', 'a.ts'), 'A');
    expect(hashGlobs(['src/*.ts'], dir)[0]!.hash).toBe(hashText('A'));
  });
});

describe('StageCache', () => {
  test('an entry written is read back as it was', () => {
    const cache = new StageCache(ws());
    expect(cache.put(entry('f1'))).toEqual({ ok: true });
    expect(cache.get('f1')).toEqual(entry('f1'));
    expect(cache.get('f2')).toBeUndefined();
  });

  test('a truncated or edited entry is ignored and removed, never trusted', () => {
    const dir = ws();
    const cache = new StageCache(dir);
    cache.put(entry('f1'));
    const file = path.join(cacheDir(dir), 'f1.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    expect(cache.get('f1')).toBeUndefined();
    cache.put(entry('f1'));
    writeFileSync(file, readFileSync(file, 'utf8').replace('"done"', '"forged"'));
    expect(cache.get('f1')).toBeUndefined();
    expect(() => readFileSync(file)).toThrow();
  });

  test('two stages with the same outputs keep separate entries', () => {
    const cache = new StageCache(ws());
    cache.put(entry('f1', { stage: 'a' }));
    cache.put(entry('f2', { stage: 'b' }));
    expect(cache.get('f1')!.stage).toBe('a');
    expect(cache.get('f2')!.stage).toBe('b');
  });
});

describe('re-applying a cached stage\'s changes (pendingChanges, then writeChanges)', () => {
  const change = (p: string, before: string | null, after: string | null) => ({
    path: p,
    before: before === null ? null : hashText(before),
    after: after === null ? null : { hash: hashText(after), base64: Buffer.from(after).toString('base64') },
  });
  const apply = (dir: string, changes: FileChange[]) => {
    const pending = pendingChanges(changes, workspaceFiles(dir));
    if (!pending.ok) return pending;
    const written = writeChanges(dir, pending.todo);
    return written.ok ? { ok: true, applied: pending.todo.map((c) => c.path) } : written;
  };

  test('files as the stage found them get its changes; files already as it left them are untouched', () => {
    const dir = ws();
    writeFileSync(path.join(dir, 'old.txt'), 'old');
    writeFileSync(path.join(dir, 'done.txt'), 'new');
    writeFileSync(path.join(dir, 'gone.txt'), 'bye');
    chmodSync(path.join(dir, 'old.txt'), 0o755);
    const r = apply(dir, [change('old.txt', 'old', 'new'), change('done.txt', 'old', 'new'), change('sub/created.txt', null, 'hi'), change('gone.txt', 'bye', null)]);
    expect(r).toEqual({ ok: true, applied: ['old.txt', 'sub/created.txt', 'gone.txt'] });
    expect(readFileSync(path.join(dir, 'old.txt'), 'utf8')).toBe('new');
    // A cache entry carries no mode: an executable stays executable.
    expect(statSync(path.join(dir, 'old.txt')).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(dir, 'sub/created.txt'), 'utf8')).toBe('hi');
    expect(() => readFileSync(path.join(dir, 'gone.txt'))).toThrow();
  });

  test('a file edited since is a miss and nothing at all is written', () => {
    const dir = ws();
    writeFileSync(path.join(dir, 'a.txt'), 'old');
    writeFileSync(path.join(dir, 'b.txt'), 'edited by hand');
    const r = apply(dir, [change('a.txt', 'old', 'new'), change('b.txt', 'old', 'new')]);
    expect(r).toMatchObject({ ok: false, path: 'b.txt' });
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('old');
  });

  test('a path that would leave the workspace, or write through a link, is refused before anything is written', () => {
    const dir = ws();
    const outside = ws();
    symlinkSync(outside, path.join(dir, 'link'));
    expect(apply(dir, [change('ok.txt', null, 'x'), change('../escape.txt', null, 'x')]).ok).toBe(false);
    expect(apply(dir, [change('ok.txt', null, 'x'), change('link/in.txt', null, 'x')]).ok).toBe(false);
    expect(existsSync(path.join(dir, 'ok.txt'))).toBe(false);
    expect(readdirSync(outside)).toEqual([]);
  });
});
