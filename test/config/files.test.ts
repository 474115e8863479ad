/**
 * expandGlobs (src/config/files.ts) skips the glob engine for plain paths and leaves the ignores
 * out where they cannot matter: checked here against globbing every pattern with the ignores, in
 * a folder with the awkward cases (a `.git` file, ignored folders at depth, links, a folder named
 * like a file).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALWAYS_IGNORED, expandGlobs } from '../../src/config/files.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'factory-globs-'));
  const files = ['SPEC.md', 'README.md', '.git', 'node_modules/a/b.md', 'sub/.git/config', 'sub/.factory/x.md', 'sub/c.md', 'docs/a.md', 'docs/deep/d.md', 'x.md/inside.txt', 'scenarios/one.yaml', 'scenarios/.hidden.yaml', 'weird name.md', 'sub/node_modules'];
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), f);
  }
  symlinkSync(path.join(dir, 'SPEC.md'), path.join(dir, 'link.md'));
  symlinkSync(path.join(dir, 'docs'), path.join(dir, 'linkdir'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const everything = (patterns: string[]) => globSync(patterns, { cwd: dir, ignore: ALWAYS_IGNORED, dot: true, onlyFiles: true, expandDirectories: false }).sort();

describe('expandGlobs', () => {
  it.each([
    [['SPEC.md']], [['./SPEC.md']], [['docs/a.md']], [['missing.md']], [['docs']], [['docs/']], [['x.md']], [['weird name.md']],
    [['*']], [['*.md']], [['.*']], [['*.git']], [['.git']], [['sub/.git']], [['sub/*']], [['sub/node_modules']], [['docs/*.md']], [['**/*.md']],
    [['scenarios/*.yaml']], [['node_modules/a/b.md']], [['sub/.factory/x.md']], [['../x']], [['a/../SPEC.md']], [['*/c.md']], [['{SPEC,README}.md']],
    [['link.md']], [['linkdir/*.md']], [['linkdir/a.md']], [['SPEC.md', 'SPEC.md', 'docs/*.md']], [['SPEC.md', '!SPEC.md']], [['docs/a.md', '*.md']], [['sub/?.md']],
  ])('%j gives what globbing with the ignores gives', (patterns) => {
    expect(expandGlobs(patterns, dir)).toStrictEqual(everything(patterns));
  });
});
