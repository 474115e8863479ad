import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { copyWorkspace, removeCopy } from '../../src/workspace/isolate.js';

test('a copy is a copy: an edit in place leaves the original; .git and .factory stay out, node_modules is linked', async () => {
  const src = mkdtempSync(path.join(tmpdir(), 'factory-isolate-'));
  mkdirSync(path.join(src, 'lib/deep'), { recursive: true });
  mkdirSync(path.join(src, '.git'));
  mkdirSync(path.join(src, '.factory/runs'), { recursive: true });
  mkdirSync(path.join(src, 'node_modules/pkg'), { recursive: true });
  writeFileSync(path.join(src, 'lib/deep/a.txt'), 'original');
  writeFileSync(path.join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(path.join(src, '.git/HEAD'), 'ref');
  symlinkSync('lib/deep/a.txt', path.join(src, 'link'));
  const dest = path.join(src, '.factory/work/run/attempt[1]');
  const stats = await copyWorkspace(src, dest);
  expect(stats.files).toBe(2);
  writeFileSync(path.join(dest, 'lib/deep/a.txt'), 'changed in the copy');
  expect(readFileSync(path.join(src, 'lib/deep/a.txt'), 'utf8')).toBe('original');
  expect(statSync(path.join(src, 'lib/deep/a.txt')).nlink).toBe(1);
  expect(statSync(path.join(dest, 'run.sh')).mode & 0o111).not.toBe(0);
  expect(existsSync(path.join(dest, '.git'))).toBe(false);
  expect(existsSync(path.join(dest, '.factory'))).toBe(false);
  expect(lstatSync(path.join(dest, 'node_modules')).isSymbolicLink()).toBe(true);
  expect(realpathSync(path.join(dest, 'node_modules'))).toBe(realpathSync(path.join(src, 'node_modules')));
  expect(readFileSync(path.join(dest, 'link'), 'utf8')).toBe('changed in the copy');
  // Taken again, the copy starts from the original.
  await copyWorkspace(src, dest);
  expect(readFileSync(path.join(dest, 'lib/deep/a.txt'), 'utf8')).toBe('original');
  await removeCopy(dest);
  expect(existsSync(dest)).toBe(false);
});
