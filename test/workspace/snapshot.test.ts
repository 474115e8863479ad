import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { changesBetween, takeSnapshot, unifiedDiff } from '../../src/workspace/snapshot.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

function tree(files: Record<string, string>): string {
  const dir = tempWorkspace('factory-snap-');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('the workspace snapshot', () => {
  test('hashes every file except .git, .factory, node_modules and watch.ignore; git-ignored files included', () => {
    const dir = tree({ 'a.txt': 'a', '.gitignore': 'dist/\n', 'dist/out.js': 'x', '.git/HEAD': 'ref', '.factory/lock': '1', 'node_modules/p/index.js': '', 'sub/node_modules/q.js': '', 'tmp/cache.bin': 'c' });
    const snap = takeSnapshot(dir, { ignore: ['tmp/**'] });
    expect([...snap.keys()].sort()).toEqual(['.gitignore', 'a.txt', 'dist/out.js']);
    expect(snap.get('a.txt')).toMatchObject({ size: 1, binary: false, text: 'a' });
  });

  test('changes: created, modified, deleted; unchanged files are not read again', () => {
    const dir = tree({ 'keep.txt': 'same\n', 'edit.txt': 'one\ntwo\nthree\n', 'gone.txt': 'bye\n' });
    const before = takeSnapshot(dir);
    writeFileSync(path.join(dir, 'edit.txt'), 'one\n2\nthree\n');
    utimesSync(path.join(dir, 'edit.txt'), new Date(), new Date(Date.now() + 5000));
    rmSync(path.join(dir, 'gone.txt'));
    writeFileSync(path.join(dir, 'new.txt'), 'hello\n');
    const after = takeSnapshot(dir, { previous: before });
    expect(after.get('keep.txt')).toBe(before.get('keep.txt'));
    expect(changesBetween(before, after)).toEqual([
      { path: 'edit.txt', kind: 'modified' },
      { path: 'gone.txt', kind: 'deleted' },
      { path: 'new.txt', kind: 'created' },
    ]);
  });

  test('a unified diff of text files, new files included, hidden paths left out', () => {
    const dir = tree({ 'edit.txt': 'l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n', 'scenarios/s.yaml': 'secret\n' });
    const before = takeSnapshot(dir);
    writeFileSync(path.join(dir, 'edit.txt'), 'l1\nl2\nl3\nl4\nL5\nl6\nl7\nl8\n');
    writeFileSync(path.join(dir, 'new.js'), 'export {};\n');
    writeFileSync(path.join(dir, 'scenarios/s.yaml'), 'changed secret\n');
    writeFileSync(path.join(dir, 'blob.bin'), Buffer.from([0, 1, 2]));
    const diff = unifiedDiff(before, takeSnapshot(dir), (rel) => rel.startsWith('scenarios/'));
    expect(diff).toBe(
      [
        'diff --git a/blob.bin b/blob.bin',
        'new file',
        'Binary file blob.bin created',
        'diff --git a/edit.txt b/edit.txt',
        '--- a/edit.txt',
        '+++ b/edit.txt',
        '@@ -2,7 +2,7 @@',
        ' l2',
        ' l3',
        ' l4',
        '-l5',
        '+L5',
        ' l6',
        ' l7',
        ' l8',
        'diff --git a/new.js b/new.js',
        'new file',
        '--- /dev/null',
        '+++ b/new.js',
        '@@ -0,0 +1,1 @@',
        '+export {};',
        '',
      ].join('\n'),
    );
    expect(diff).not.toContain('secret');
  });
});
