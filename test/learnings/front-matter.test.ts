import { describe, expect, it } from 'vitest';
import { fileNameOf } from '../../src/learnings/file-name.js';
import { formatLearning, parseLearning } from '../../src/learnings/front-matter.js';
import { warningText } from '../../src/learnings/learning.js';

const LEARNING = {
  title: 'Parsers need positions',
  tags: ['yaml', 'errors'],
  files: [{ path: 'src/load.ts', sha256: 'a'.repeat(64) }],
  created: '2026-12-01T10:00:00.000Z',
  run: '20261201T100000.000Z-abcd',
  stage: 'learn',
  body: 'Keep the LineCounter: every message names line and column.',
};

describe('a learning file', () => {
  it('is written with YAML front matter and read back as it was', () => {
    const text = formatLearning(LEARNING);
    expect(text.startsWith('---\ntitle: Parsers need positions\n')).toBe(true);
    const parsed = parseLearning(text, 'docs/learnings/x.md');
    expect(parsed).toEqual({ ok: true, learning: { ...LEARNING, at: 'docs/learnings/x.md' } });
  });

  it('keeps a title that YAML would read as something else (a colon, a leading dash, a number)', () => {
    for (const title of ['fix: the parser', '- not a list', '1994', 'yes', '"quoted"']) {
      const parsed = parseLearning(formatLearning({ ...LEARNING, title }), 'x.md');
      expect(parsed.ok && parsed.learning.title).toBe(title);
    }
  });

  it('with broken front matter is a warning naming the file, line and column, and the fix', () => {
    const text = '---\ntitle: ok\ntags: [a, b\nfiles: []\n---\nbody\n';
    const parsed = parseLearning(text, 'docs/learnings/broken.md');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.warning.file).toBe('docs/learnings/broken.md');
    expect(parsed.warning.line).toBeGreaterThanOrEqual(3);
    const shown = warningText(parsed.warning);
    expect(shown).toMatch(/^docs\/learnings\/broken\.md:\d+:\d+: learning docs\/learnings\/broken\.md has broken front matter: .*; it is left out \(fix the YAML between the two `---` lines/);
  });

  it('without front matter, without a title, or with files that are not {path, sha256}: a warning each', () => {
    expect(parseLearning('just text\n', 'a.md')).toMatchObject({ ok: false, warning: { line: 1, message: expect.stringContaining('has no front matter') } });
    expect(parseLearning('---\ntags: [a]\n---\nx\n', 'b.md')).toMatchObject({ ok: false, warning: { message: expect.stringContaining('has no `title`') } });
    expect(parseLearning('---\ntitle: t\nfiles: [a.ts]\n---\nx\n', 'c.md')).toMatchObject({ ok: false, warning: { line: 3, message: expect.stringContaining('`files` must be a list') } });
    expect(parseLearning('---\ntitle: t\ntitle: u\n---\nx\n', 'd.md')).toMatchObject({ ok: false, warning: { line: 3 } });
  });
});

describe('a file name from a title', () => {
  it('is the title in lower case with runs of other characters as one dash', () => {
    expect(fileNameOf('Use I/O carefully: the parser!')).toEqual({ ok: true, name: 'use-i-o-carefully-the-parser.md' });
    expect(fileNameOf('Ünïcode café')).toEqual({ ok: true, name: 'unicode-cafe.md' });
    expect(fileNameOf('../../etc/passwd')).toEqual({ ok: true, name: 'etc-passwd.md' });
  });

  it('is refused for a title that leaves nothing usable, holds control characters or is too long', () => {
    for (const title of ['../..', '???', '日本語', 'two\nlines', 'nul\u0000byte', 'x'.repeat(121)]) {
      const named = fileNameOf(title);
      expect(named.ok, title).toBe(false);
      if (!named.ok) expect(named.message).toMatch(/unsafe or empty file name|control characters|longer than 120/);
    }
  });
});

describe('a learning file that would cost too much to read', () => {
  it('an alias bomb in the front matter is a warning, not a hang', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    const parsed = parseLearning(`---\ntitle: t\n${bomb}\n---\nbody\n`, 'bomb.md');
    expect(parsed).toMatchObject({ ok: false, warning: { message: expect.stringContaining('cannot be read') } });
  });
});
