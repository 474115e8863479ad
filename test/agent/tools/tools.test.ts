import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTools, defaultToolNames, TOOL_NAMES } from '../../../src/agent/tools/index.js';
import { createDenyMatcher } from '../../../src/workspace/matcher.js';
import { makeSandbox, put, tools } from '../helpers.js';

let root: string;
let ws: string;
let elsewhere: string;

beforeEach(() => {
  ({ root, ws, elsewhere } = makeSandbox('tools'));
  put(ws, {
    'src/a.ts': 'export const a = 1;\nexport function parse(x: string) {\n  return x;\n}\n',
    'src/b.ts': 'import { a } from "../a";\nconsole.log(a);\n',
    'README.md': '# demo\n',
    'scenarios/holdout.yaml': 'name: secret scenario\nparse: yes\n',
    '.git/config': '[core] parse\n',
    '.env': 'TOKEN=parse\n',
    'node_modules/dep/index.js': 'parse()\n',
    'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0x70, 0x61, 0x72, 0x73, 0x65]),
  });
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('registry', () => {
  it('gives Messages API definitions with the SPEC input fields', () => {
    const t = tools(ws);
    const fields = Object.fromEntries(t.definitions.map((d) => [d.name, { props: Object.keys(d.input_schema.properties as object), required: d.input_schema.required }]));
    expect(fields).toEqual({
      read_file: { props: ['path'], required: ['path'] },
      write_file: { props: ['path', 'content'], required: ['path', 'content'] },
      edit_file: { props: ['path', 'old', 'new'], required: ['path', 'old', 'new'] },
      list_files: { props: ['path', 'pattern'], required: [] },
      search: { props: ['pattern', 'path'], required: ['pattern'] },
      run_command: { props: ['command'], required: ['command'] },
    });
    for (const d of t.definitions) expect(d.input_schema.type).toBe('object');
  });

  it('default tool names add run_command only with commands', () => {
    expect(defaultToolNames(undefined)).toEqual(['read_file', 'write_file', 'edit_file', 'list_files', 'search']);
    expect(defaultToolNames(['npm test'])).toContain('run_command');
  });

  it('refuses to build an unknown tool', () => {
    expect(() => buildTools(['read_file', 'rm_rf'], { workspace: ws, deny: createDenyMatcher(), signal: new AbortController().signal })).toThrow(/unknown agent tool "rm_rf"/);
  });

  it('an unknown tool call is a tool error naming the available tools', async () => {
    const t = buildTools(['read_file'], { workspace: ws, deny: createDenyMatcher(), signal: new AbortController().signal });
    const r = await t.run('write_file', { path: 'x', content: 'y' });
    expect(r).toEqual({ ok: false, text: 'unknown tool "write_file"; the tools available are read_file' });
  });

  it('malformed input is a tool error naming the field', async () => {
    const t = tools(ws);
    expect(await t.run('write_file', { path: 'x.txt' })).toMatchObject({ ok: false, text: expect.stringContaining('"content" is missing') });
    expect(await t.run('read_file', { path: 7 })).toMatchObject({ ok: false, text: expect.stringContaining('"path" must be a string, got number') });
    expect(await t.run('edit_file', { path: 'a', old: 'x', new: ['y'] })).toMatchObject({ ok: false, text: expect.stringContaining('"new" must be a string, got an array') });
    expect(await t.run('read_file', 'src/a.ts')).toMatchObject({ ok: false, text: expect.stringContaining('must be an object') });
    expect(await t.run('search', null)).toMatchObject({ ok: false });
    expect(existsSync(path.join(ws, 'x.txt'))).toBe(false);
  });

  it('ignores extra input fields', async () => {
    expect(await tools(ws).run('read_file', { path: 'README.md', encoding: 'utf8' })).toEqual({ ok: true, text: '# demo\n' });
  });
});

describe('read_file', () => {
  it('returns the text', async () => {
    expect(await tools(ws).run('read_file', { path: 'src/b.ts' })).toEqual({ ok: true, text: 'import { a } from "../a";\nconsole.log(a);\n' });
  });

  it('refuses denied, escaping and absolute paths', async () => {
    const t = tools(ws);
    for (const p of ['.env', '.git/config', 'scenarios/holdout.yaml', '../elsewhere/secret.txt', path.join(elsewhere, 'secret.txt')]) {
      const r = await t.run('read_file', { path: p });
      expect(r.ok).toBe(false);
      expect(r.text).not.toContain('top secret');
      expect(r.text).not.toContain('secret scenario');
    }
  });

  it('turns fs errors into tool errors', async () => {
    const t = tools(ws);
    expect(await t.run('read_file', { path: 'missing.ts' })).toEqual({ ok: false, text: '"missing.ts" does not exist' });
    expect(await t.run('read_file', { path: 'src' })).toMatchObject({ ok: false, text: expect.stringContaining('is a folder') });
    expect(await t.run('read_file', { path: 'src/a.ts/x' })).toMatchObject({ ok: false, text: expect.stringContaining('is a file, not a folder') });
    expect(await t.run('read_file', { path: 'assets/logo.png' })).toMatchObject({ ok: false, text: expect.stringContaining('binary file') });
  });

  it('truncates a large file with a note', async () => {
    put(ws, { 'big.txt': 'x'.repeat(300 * 1024) });
    const r = await tools(ws).run('read_file', { path: 'big.txt' });
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/file truncated: showing the first 262144 of 307200 bytes/);
  });

  it('follows a symlink that stays inside', async () => {
    symlinkSync('src', path.join(ws, 'lib'));
    expect(await tools(ws).run('read_file', { path: 'lib/b.ts' })).toMatchObject({ ok: true });
  });
});

describe('write_file', () => {
  it('creates parent folders and tracks created files', async () => {
    const t = tools(ws);
    expect(await t.run('write_file', { path: 'src/deep/new.ts', content: 'x\n' })).toEqual({ ok: true, text: 'created src/deep/new.ts (2 bytes)' });
    expect(readFileSync(path.join(ws, 'src/deep/new.ts'), 'utf8')).toBe('x\n');
    expect(await t.run('write_file', { path: 'README.md', content: '# new\n' })).toMatchObject({ ok: true, text: expect.stringMatching(/^replaced/) });
    expect(t.changes.entries()).toEqual([
      { path: 'README.md', kind: 'modified' },
      { path: 'src/deep/new.ts', kind: 'created' },
    ]);
    expect(t.filesChanged()).toEqual(['README.md', 'src/deep/new.ts']);
  });

  it('writes atomically, leaving no temp file, and keeps an executable bit', async () => {
    put(ws, { 'run.sh': '#!/bin/sh\n' });
    chmodSync(path.join(ws, 'run.sh'), 0o755);
    expect(await tools(ws).run('write_file', { path: 'run.sh', content: '#!/bin/sh\necho hi\n' })).toMatchObject({ ok: true });
    expect(statSync(path.join(ws, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readdirSync(ws).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('honours writes and deny, writing nothing when refused', async () => {
    const t = tools(ws, { writes: ['src/**'] });
    expect(await t.run('write_file', { path: 'tests/judge.test.ts', content: 'cheat' })).toMatchObject({ ok: false, text: expect.stringContaining('writes: src/**') });
    expect(await t.run('write_file', { path: 'scenarios/holdout.yaml', content: 'cheat' })).toMatchObject({ ok: false });
    expect(await t.run('write_file', { path: '.git/hooks/pre-commit', content: 'evil' })).toMatchObject({ ok: false });
    expect(existsSync(path.join(ws, 'tests'))).toBe(false);
    expect(readFileSync(path.join(ws, 'scenarios/holdout.yaml'), 'utf8')).toContain('secret scenario');
    expect(existsSync(path.join(ws, '.git/hooks'))).toBe(false);
    expect(t.filesChanged()).toEqual([]);
  });

  it('does not write through a dangling symlink that points outside', async () => {
    symlinkSync('../elsewhere/planted.txt', path.join(ws, 'trap'));
    const r = await tools(ws).run('write_file', { path: 'trap', content: 'pwned' });
    expect(r).toMatchObject({ ok: false, text: expect.stringContaining('leads outside the workspace') });
    expect(existsSync(path.join(elsewhere, 'planted.txt'))).toBe(false);
  });

  it('does not create folders through a symlinked folder that points outside', async () => {
    symlinkSync(elsewhere, path.join(ws, 'out'));
    expect(await tools(ws).run('write_file', { path: 'out/a/b.txt', content: 'pwned' })).toMatchObject({ ok: false });
    expect(existsSync(path.join(elsewhere, 'a'))).toBe(false);
  });

  it('refuses to replace a folder', async () => {
    expect(await tools(ws).run('write_file', { path: 'src', content: 'x' })).toMatchObject({ ok: false, text: expect.stringContaining('is a folder') });
  });

  it('writes through an inside symlink to its target, recording the real path', async () => {
    symlinkSync('src/a.ts', path.join(ws, 'alias.ts'));
    const t = tools(ws);
    expect(await t.run('write_file', { path: 'alias.ts', content: 'changed\n' })).toMatchObject({ ok: true });
    expect(readFileSync(path.join(ws, 'src/a.ts'), 'utf8')).toBe('changed\n');
    expect(t.filesChanged()).toEqual(['src/a.ts']);
  });
});

describe('edit_file', () => {
  it('replaces the one occurrence, literally', async () => {
    const t = tools(ws);
    const r = await t.run('edit_file', { path: 'src/a.ts', old: 'return x;', new: 'return `$&${x}$1`;' });
    expect(r).toEqual({ ok: true, text: 'edited src/a.ts: replaced 1 occurrence at line 3' });
    expect(readFileSync(path.join(ws, 'src/a.ts'), 'utf8')).toContain('return `$&${x}$1`;');
    expect(t.filesChanged()).toEqual(['src/a.ts']);
  });

  it('says how many occurrences when not exactly one', async () => {
    const t = tools(ws);
    expect(await t.run('edit_file', { path: 'src/a.ts', old: 'nothing like this', new: 'y' })).toMatchObject({ ok: false, text: expect.stringContaining('0 occurrences') });
    expect(await t.run('edit_file', { path: 'src/a.ts', old: 'x', new: 'y' })).toMatchObject({ ok: false, text: expect.stringMatching(/occurs 4 times in src\/a\.ts \(lines 1, 2, 2, 3\)/) });
    expect(await t.run('edit_file', { path: 'src/a.ts', old: '', new: 'y' })).toMatchObject({ ok: false, text: expect.stringContaining('"old" is empty') });
    expect(t.filesChanged()).toEqual([]);
  });

  it('counts overlapping occurrences', async () => {
    put(ws, { 'o.txt': 'aaa' });
    expect(await tools(ws).run('edit_file', { path: 'o.txt', old: 'aa', new: 'b' })).toMatchObject({ ok: false, text: expect.stringContaining('occurs 2 times') });
  });

  it('hints at CRLF line endings', async () => {
    put(ws, { 'w.txt': 'one\r\ntwo\r\n' });
    expect(await tools(ws).run('edit_file', { path: 'w.txt', old: 'one\ntwo', new: 'x' })).toMatchObject({ ok: false, text: expect.stringContaining('CRLF') });
  });

  it('refuses missing, denied and non-writable files', async () => {
    const t = tools(ws, { writes: ['src/**'] });
    expect(await t.run('edit_file', { path: 'src/none.ts', old: 'a', new: 'b' })).toEqual({ ok: false, text: '"src/none.ts" does not exist' });
    expect(await t.run('edit_file', { path: 'README.md', old: 'demo', new: 'x' })).toMatchObject({ ok: false, text: expect.stringContaining('outside what this stage may write') });
    expect(await t.run('edit_file', { path: '.env', old: 'TOKEN', new: 'x' })).toMatchObject({ ok: false, text: expect.stringContaining('off-limits') });
  });
});

describe('list_files', () => {
  it('lists recursively, sorted, without denied paths or node_modules', async () => {
    const r = await tools(ws).run('list_files', {});
    expect(r).toEqual({ ok: true, text: ['README.md', 'assets/logo.png', 'src/a.ts', 'src/b.ts'].join('\n') });
  });

  it('lists one folder, and filters by pattern', async () => {
    const t = tools(ws);
    expect((await t.run('list_files', { path: 'src' })).text).toBe('src/a.ts\nsrc/b.ts');
    expect((await t.run('list_files', { pattern: '*.ts' })).text).toBe('src/a.ts\nsrc/b.ts');
    expect((await t.run('list_files', { pattern: 'src/**/b.*' })).text).toBe('src/b.ts');
    expect((await t.run('list_files', { path: 'src', pattern: 'a.*' })).text).toBe('src/a.ts');
    expect((await t.run('list_files', { pattern: '*.py' })).text).toBe('no files match');
  });

  it('shows inside links, leaves out links that lead outside or to denied paths', async () => {
    symlinkSync('src', path.join(ws, 'lib'));
    symlinkSync(elsewhere, path.join(ws, 'away'));
    symlinkSync('.env', path.join(ws, 'env-link'));
    const text = (await tools(ws).run('list_files', {})).text;
    expect(text.split('\n')).toContain('lib/');
    expect(text).not.toContain('away');
    expect(text).not.toContain('env-link');
  });

  it('refuses denied and escaping folders', async () => {
    const t = tools(ws);
    expect(await t.run('list_files', { path: '.git' })).toMatchObject({ ok: false });
    expect(await t.run('list_files', { path: 'scenarios' })).toMatchObject({ ok: true, text: 'no files' });
    expect(await t.run('list_files', { path: '..' })).toMatchObject({ ok: false });
    expect(await t.run('list_files', { path: 'nope' })).toEqual({ ok: false, text: '"nope" does not exist' });
  });

  it('caps the listing with a note', async () => {
    mkdirSync(path.join(ws, 'many'));
    put(ws, Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`many/f${String(i).padStart(4, '0')}.txt`, ''])));
    const lines = (await tools(ws).run('list_files', { path: 'many' })).text.split('\n');
    expect(lines).toHaveLength(1001);
    expect(lines.at(-1)).toBe('[… 100 more paths not shown; narrow with path or pattern]');
  });
});

describe('search', () => {
  it('returns path:line: text lines, skipping denied, binary files and node_modules', async () => {
    const r = await tools(ws).run('search', { pattern: 'parse' });
    expect(r).toEqual({ ok: true, text: 'src/a.ts:2: export function parse(x: string) {\n[1 binary, unreadable or large file skipped]' });
  });

  it('searches a folder or a file', async () => {
    const t = tools(ws);
    expect((await t.run('search', { pattern: '^import', path: 'src' })).text).toBe('src/b.ts:1: import { a } from "../a";');
    expect((await t.run('search', { pattern: 'a', path: 'src/b.ts' })).text.split('\n')).toHaveLength(2);
    expect((await t.run('search', { pattern: 'zzz' })).text).toMatch(/^no matches in \d+ files/);
  });

  it('an invalid regex is a tool error', async () => {
    expect(await tools(ws).run('search', { pattern: '(unclosed' })).toMatchObject({ ok: false, text: expect.stringContaining('not a valid regular expression') });
  });

  it('refuses a denied path', async () => {
    expect(await tools(ws).run('search', { pattern: 'x', path: 'scenarios/holdout.yaml' })).toMatchObject({ ok: false });
  });

  it('caps the matches', async () => {
    put(ws, { 'big.txt': 'hit\n'.repeat(500) });
    const lines = (await tools(ws).run('search', { pattern: 'hit' })).text.split('\n');
    expect(lines.filter((l) => l.startsWith('big.txt:'))).toHaveLength(200);
    expect(lines).toContain('[… more matches not shown (first 200); narrow with path or a more specific pattern]');
  });

  it('stops a catastrophically backtracking regex', async () => {
    put(ws, { 'evil.txt': `${'a'.repeat(40)}!\n` });
    const r = await tools(ws, { searchTimeLimitMs: 200 }).run('search', { pattern: '^(a+)+$', path: 'evil.txt' });
    expect(r).toMatchObject({ ok: false, text: expect.stringContaining('too slow') });
  });
});

it('every tool is registered', () => {
  expect(tools(ws).definitions.map((d) => d.name)).toEqual([...TOOL_NAMES]);
});
