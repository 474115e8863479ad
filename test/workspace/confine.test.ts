import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDenied, resolveInWorkspace, type ConfineMode, type ConfinementReason } from '../../src/workspace/confine.js';
import { createDenyMatcher, createMatcher } from '../../src/workspace/matcher.js';

let root: string;
let ws: string;

beforeAll(() => {
  root = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-confine-')));
  ws = path.join(root, 'ws');
  const outside = path.join(root, 'elsewhere');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.txt'), 'top secret');
  for (const dir of ['src', 'scenarios', '.git', 'secrets', 'tests', 'out', 'docs']) mkdirSync(path.join(ws, dir), { recursive: true });
  writeFileSync(path.join(ws, 'src/a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(ws, 'scenarios/holdout.yaml'), 'name: holdout\n');
  writeFileSync(path.join(ws, '.git/config'), '[core]\n');
  writeFileSync(path.join(ws, '.env'), 'KEY=1\n');
  writeFileSync(path.join(ws, 'tests/judge.test.ts'), '// the judge\n');
  const link = (target: string, name: string) => symlinkSync(target, path.join(ws, name));
  link('/etc', 'etc');
  link('..', 'up');
  link('chain2', 'chain1');
  link('chain3', 'chain2');
  link('../elsewhere', 'chain3');
  link('../elsewhere/new.txt', 'dangling');
  link('src', 'lib');
  link(path.join(ws, 'src'), 'abslink');
  link('../ws/src', 'sneaky');
  link('loop2', 'loop1');
  link('loop1', 'loop2');
  link('.git', 'gitlink');
  link('scenarios/holdout.yaml', 'holdlink');
  link('src/new-from-link.ts', 'dangling-inside');
  link('../tests', 'out/t');
  link(outside, 'src/escape-abs');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const deny = () => createDenyMatcher(['secrets/**'], ['scenarios/*.yaml']);
const writes = () => createMatcher(['src/**', 'out/**']);

type Expect = ConfinementReason | { rel: string };
type Case = [label: string, requested: unknown, mode: ConfineMode, expected: Expect, withWrites?: boolean];

const lookalikeDots = '\u2024\u2024'; // ONE DOT LEADER twice: a name, not ".."

const corpus: Case[] = [
  // leaving through ..
  ['bare ..', '..', 'read', 'escapes'],
  ['../x', '../x', 'read', 'escapes'],
  ['a/../../x', 'a/../../x', 'read', 'escapes'],
  ['out and back in', 'src/../../ws/src/a.ts', 'read', 'escapes'],
  ['backslash ..', '..\\..\\etc\\passwd', 'read', 'escapes'],
  ['deep ..', 'a/b/c/../../../../elsewhere/secret.txt', 'write', 'escapes'],
  // absolute forms
  ['/etc/passwd', '/etc/passwd', 'read', 'absolute'],
  ['C:\\Windows', 'C:\\Windows', 'read', 'absolute'],
  ['drive-relative c:x', 'c:x', 'read', 'absolute'],
  ['UNC \\\\server\\share', '\\\\server\\share', 'read', 'absolute'],
  ['//server/share', '//server/share', 'read', 'absolute'],
  ['\\\\?\\C:\\x', '\\\\?\\C:\\x', 'read', 'absolute'],
  ['absolute path into the workspace', '/' + 'src/a.ts', 'read', 'absolute'],
  // home
  ['~/.ssh/id_rsa', '~/.ssh/id_rsa', 'read', 'home'],
  ['~root', '~root/.bashrc', 'read', 'home'],
  ['bare ~', '~', 'list', 'home'],
  // characters
  ['NUL', 'a\u0000b', 'read', 'nul_byte'],
  ['NUL before an extension', 'src/a.ts\u0000.png', 'write', 'nul_byte'],
  ['newline', 'a\nb', 'write', 'control_character'],
  ['escape', 'a\u001b[31m', 'read', 'control_character'],
  // type and size
  ['empty string', '', 'read', 'empty'],
  ['blank string', '   ', 'write', 'empty'],
  ['a number', 42, 'read', 'not_a_string'],
  ['null', null, 'read', 'not_a_string'],
  ['an object', { path: 'src/a.ts' }, 'read', 'not_a_string'],
  ['an array', ['src/a.ts'], 'read', 'not_a_string'],
  ['very long path', 'a/'.repeat(3000) + 'x', 'write', 'too_long'],
  ['very long name', 'x'.repeat(300), 'write', 'too_long'],
  // git metadata, records, secrets
  ['.git/config', '.git/config', 'read', 'denied'],
  ['.GIT/config', '.GIT/config', 'read', 'denied'],
  ['.git', '.git', 'list', 'denied'],
  ['./.git/HEAD', './.git/HEAD', 'read', 'denied'],
  ['sub/../.git/x', 'sub/../.git/x', 'write', 'denied'],
  ['.git\\hooks\\pre-commit', '.git\\hooks\\pre-commit', 'write', 'denied'],
  ['nested .git', 'src/.git/hooks/post-checkout', 'write', 'denied'],
  ['.git with a trailing dot', '.git./config', 'read', 'denied'],
  ['.git with a trailing space', '.git /config', 'read', 'denied'],
  ['.git with a zero-width joiner', '.g\u200cit/config', 'read', 'denied'],
  ['fullwidth .ｇｉｔ', '.\uff47\uff49\uff54/config', 'read', 'denied'],
  ['8.3 short name GIT~1', 'GIT~1/config', 'read', 'denied'],
  ['.factory/runs/x', '.factory/runs/x', 'read', 'denied'],
  ['.Factory', '.Factory/runs/x/run.json', 'write', 'denied'],
  ['.env', '.env', 'read', 'denied'],
  ['.env.local', '.env.local', 'read', 'denied'],
  ['.ENV', '.ENV', 'read', 'denied'],
  ['nested .env', 'config/.env', 'write', 'denied'],
  // deny globs: scenario holdout and the stage's deny
  ['scenarios/holdout.yaml', 'scenarios/holdout.yaml', 'read', 'denied'],
  ['Scenarios/holdout.yaml (case variant)', 'Scenarios/HOLDOUT.yaml', 'read', 'denied'],
  ['scenarios\\holdout.yaml', 'scenarios\\holdout.yaml', 'read', 'denied'],
  ['a new scenario file', 'scenarios/new.yaml', 'write', 'denied'],
  ['stage deny', 'secrets/key.pem', 'read', 'denied'],
  ['stage deny, the folder itself', 'secrets', 'list', 'denied'],
  // symbolic links
  ['symlink to /etc', 'etc/passwd', 'read', 'symlink_escape'],
  ['the /etc link itself', 'etc', 'list', 'symlink_escape'],
  ['symlink to the parent folder', 'up/elsewhere/secret.txt', 'read', 'symlink_escape'],
  ['symlink chain to outside', 'chain1/secret.txt', 'read', 'symlink_escape'],
  ['dangling symlink pointing outside', 'dangling', 'write', 'symlink_escape'],
  ['absolute symlink to outside', 'src/escape-abs/secret.txt', 'read', 'symlink_escape'],
  ['symlink loop', 'loop1/x', 'read', 'symlink_loop'],
  ['symlink into .git', 'gitlink/config', 'read', 'denied'],
  ['symlink to the holdout', 'holdlink', 'read', 'denied'],
  // writes
  ['write outside writes', 'docs/readme.md', 'write', 'not_writable', true],
  ['write at the root outside writes', 'package.json', 'write', 'not_writable', true],
  ['write through a link out of writes', 'out/t/judge.test.ts', 'write', 'not_writable', true],
  ['write through an alias of a writable folder', 'lib/new.ts', 'write', 'not_writable', true],
  ['write the workspace itself', '.', 'write', 'workspace'],
  ['write the workspace through a link', 'lib/..', 'write', 'workspace'],
  // allowed
  ['plain file', 'src/a.ts', 'read', { rel: 'src/a.ts' }],
  ['a/../b inside', 'a/../src/a.ts', 'read', { rel: 'src/a.ts' }],
  ['./ prefix and double slashes', './src//a.ts', 'read', { rel: 'src/a.ts' }],
  ['the workspace root', '.', 'list', { rel: '' }],
  ['directory symlink inside pointing inside', 'lib/a.ts', 'read', { rel: 'src/a.ts' }],
  ['absolute symlink pointing inside', 'abslink/a.ts', 'read', { rel: 'src/a.ts' }],
  ['symlink out and back in', 'sneaky/a.ts', 'read', { rel: 'src/a.ts' }],
  ['dangling symlink pointing inside', 'dangling-inside', 'write', { rel: 'src/new-from-link.ts' }],
  ['new file in new folders', 'src/deep/er/new.ts', 'write', { rel: 'src/deep/er/new.ts' }, true],
  ['unicode lookalike of .. is a name', `${lookalikeDots}/x`, 'write', { rel: `${lookalikeDots}/x` }],
  ['file: URL is a relative name on POSIX', 'file:///etc/passwd', 'read', { rel: 'file:/etc/passwd' }],
  ['.gitignore is not .git', '.gitignore', 'write', { rel: '.gitignore' }],
  ['.github is not .git', '.github/workflows/ci.yml', 'write', { rel: '.github/workflows/ci.yml' }],
  ['.envrc is not .env', '.envrc', 'read', { rel: '.envrc' }],
  ['a file named like a scenario outside the glob', 'src/scenarios/holdout.yaml', 'read', { rel: 'src/scenarios/holdout.yaml' }],
  ['through a regular file', 'src/a.ts/x', 'read', { rel: 'src/a.ts/x' }],
];

describe('resolveInWorkspace: hostile corpus', () => {
  it('has at least 30 hostile paths', () => {
    expect(corpus.filter(([, , , e]) => typeof e === 'string').length).toBeGreaterThanOrEqual(30);
  });

  it.each(corpus)('%s', (_label, requested, mode, expected, withWrites) => {
    const result = resolveInWorkspace(ws, requested, { deny: deny(), mode, ...(withWrites ? { writes: writes() } : {}) });
    if (typeof expected === 'string') {
      expect(result).toMatchObject({ ok: false, reason: expected });
      if (!result.ok) {
        expect(result.message.length).toBeGreaterThan(10);
        // never the real location of anything
        expect(result.message).not.toContain(root);
        // nor a link's target: only what the agent itself wrote is echoed
        if (!String(requested).includes('elsewhere')) expect(result.message).not.toContain('elsewhere');
      }
    } else {
      expect(result).toMatchObject({ ok: true, rel: expected.rel });
      if (result.ok) expect(result.abs).toBe(expected.rel === '' ? ws : path.join(ws, ...expected.rel.split('/')));
    }
  });
});

describe('resolveInWorkspace: details', () => {
  it('reports the requested path and the real one separately', () => {
    const result = resolveInWorkspace(ws, 'lib/a.ts', { deny: deny(), mode: 'read' });
    expect(result).toEqual({ ok: true, abs: path.join(ws, 'src/a.ts'), rel: 'src/a.ts', requested: 'lib/a.ts' });
  });

  it('works when the workspace is itself reached through a symlink', () => {
    const alias = path.join(root, 'ws-alias');
    symlinkSync(ws, alias);
    expect(resolveInWorkspace(alias, 'src/a.ts', { deny: deny(), mode: 'read' })).toMatchObject({ ok: true, rel: 'src/a.ts' });
    expect(resolveInWorkspace(alias, 'up/elsewhere/secret.txt', { deny: deny(), mode: 'read' })).toMatchObject({ reason: 'symlink_escape' });
  });

  it('refuses a workspace that does not exist', () => {
    expect(resolveInWorkspace(path.join(root, 'nope'), 'x', { deny: deny(), mode: 'read' })).toMatchObject({ ok: false, reason: 'workspace' });
  });

  it('messages name the path and say why', () => {
    const r = resolveInWorkspace(ws, '../x', { deny: deny(), mode: 'read' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('"../x" leads outside the workspace (through "..")');
    const w = resolveInWorkspace(ws, 'docs/x.md', { deny: deny(), writes: writes(), mode: 'write' });
    if (!w.ok) expect(w.message).toContain('writes: src/**, out/**');
  });

  it('reads are not limited by writes', () => {
    expect(resolveInWorkspace(ws, 'tests/judge.test.ts', { deny: deny(), writes: writes(), mode: 'read' })).toMatchObject({ ok: true });
  });

  it('the default deny list holds even with an empty stage deny', () => {
    const bare = createDenyMatcher();
    for (const p of ['.git', '.git/HEAD', '.factory/runs/1/run.json', '.env', '.env.production']) {
      expect(resolveInWorkspace(ws, p, { deny: bare, mode: 'read' })).toMatchObject({ reason: 'denied' });
    }
  });

  it('reserved names are refused even with a matcher that denies nothing', () => {
    const none = createMatcher([]);
    expect(resolveInWorkspace(ws, '.git/config', { deny: none, mode: 'read' })).toMatchObject({ reason: 'denied' });
    expect(resolveInWorkspace(ws, '.env', { deny: none, mode: 'read' })).toMatchObject({ reason: 'denied' });
  });
});

describe('matchers', () => {
  it('match a path through any of its ancestors, dot files included', () => {
    const m = createMatcher(['build', 'docs/*.md']);
    expect(m.matches('build')).toBe(true);
    expect(m.matches('build/a/b.js')).toBe(true);
    expect(m.matches('docs/a.md')).toBe(true);
    expect(m.matches('docs/sub/a.md')).toBe(false);
    expect(createMatcher(['**/*.ts']).matches('.hidden/a.ts')).toBe(true);
  });

  it('clean ./ and leading slashes in patterns', () => {
    expect(createMatcher(['./src/**']).matches('src/a.ts')).toBe(true);
    expect(createMatcher(['/src/**']).matches('src/a.ts')).toBe(true);
  });

  it('deny matchers ignore case, write matchers do not', () => {
    expect(createDenyMatcher(['scenarios/*.yaml']).matches('SCENARIOS/x.YAML')).toBe(true);
    expect(createMatcher(['src/**']).matches('SRC/x.ts')).toBe(false);
  });

  it('isDenied covers reserved names and globs', () => {
    const d = createDenyMatcher(['scenarios/**']);
    expect(isDenied('scenarios/a.yaml', d)).toBe(true);
    expect(isDenied('pkg/.env.test', d)).toBe(true);
    expect(isDenied('src/a.ts', d)).toBe(false);
  });
});
