import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';

/**
 * What a cached command produces is what its `writes` globs declare (docs/cache-and-watch.md), through the
 * built CLI: a log several cached commands append to is no one's output, so it never makes one
 * run again and is never restored; a declared file is restored, and edited, makes its stage run.
 */

const PIPELINE = `version: 1
stages:
  a: { kind: command, run: "echo a >> log.txt; echo A > a.out", inputs: [], writes: [a.out] }
  b: { kind: command, needs: [a], run: "echo b >> log.txt; mkdir -p out; echo B > out/b.out", inputs: [], writes: ["out/**"] }
  c: { kind: command, needs: [b], run: "echo c >> log.txt", inputs: [] }
`;

function workspace(): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-cache-writes-')));
  writeFileSync(path.join(dir, 'factory.yaml'), PIPELINE);
  return dir;
}

function started(dir: string): string[] {
  const r = runBuilt(['apply', '--json'], dir);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string }).filter((e) => e.type === 'stage_started').map((e) => e.stage!).sort();
}

const read = (dir: string, rel: string) => readFileSync(path.join(dir, rel), 'utf8');

describe('a cached command produces its `writes`', () => {
  test('a log appended by several cached commands makes none of them run again, and is never restored', () => {
    const dir = workspace();
    expect(started(dir)).toEqual(['a', 'b', 'c']);
    expect(read(dir, 'log.txt')).toBe('a\nb\nc\n');
    // Each found the log as another left it: still every one is cached.
    expect(started(dir)).toEqual([]);
    expect(read(dir, 'log.txt')).toBe('a\nb\nc\n');
    // Not their output: gone, it stays gone rather than coming back from a cache entry.
    rmSync(path.join(dir, 'log.txt'));
    expect(started(dir)).toEqual([]);
    expect(() => read(dir, 'log.txt')).toThrow();
  });

  test('a declared file is restored when gone, and edited it makes its stage (only) run again', () => {
    const dir = workspace();
    expect(started(dir)).toEqual(['a', 'b', 'c']);
    rmSync(path.join(dir, 'out'), { recursive: true });
    rmSync(path.join(dir, 'a.out'));
    expect(started(dir)).toEqual([]);
    expect(read(dir, 'out/b.out')).toBe('B\n');
    expect(read(dir, 'a.out')).toBe('A\n');
    writeFileSync(path.join(dir, 'a.out'), 'edited\n');
    expect(started(dir)).toEqual(['a']);
    expect(read(dir, 'a.out')).toBe('A\n');
    expect(read(dir, 'log.txt')).toBe('a\nb\nc\na\n');
  });
});
