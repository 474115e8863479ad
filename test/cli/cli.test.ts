/**
 * The built CLI (bin/factory.js), spawned as a user runs it: help and version everywhere, usage
 * mistakes with suggestions, schema, init, eval, and colour only when it is asked for.
 * `npm run build` must have run (`npm test` does).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashSigns } from '../config/expectations.js';
import { ROOT, runBuilt, runInProcess } from '../support/cli.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// eslint-disable-next-line no-control-regex -- it matches the terminal's escape sequences
const ANSI = /\u001b\[[0-9;]*m/;
const INVALID = path.join(ROOT, 'test/fixtures/invalid');

let tmp: string;
beforeAll(() => {
  tmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-cli-')));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function freshDir(name: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The commands the program's own help lists (besides `help`). */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('help and version', () => {
  const top = runBuilt(['--help'], ROOT);
  const commands = listedCommands(top.stdout);

  it('factory --help: exit 0, usage, every command, the exit codes', () => {
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: factory /);
    expect(commands).toEqual(expect.arrayContaining(['init', 'validate', 'plan', 'graph', 'eval', 'schema']));
    expect(top.stdout).toContain('Exit codes');
    expect(top.stderr).toBe('');
  });

  it('factory --version and -V print the package version', () => {
    for (const flag of ['--version', '-V']) {
      const r = runBuilt([flag], ROOT);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    }
  });

  it('factory help COMMAND and COMMAND --help / -h print that command\'s usage, exit 0 (every form in-process)', async () => {
    for (const cmd of commands) {
      for (const args of [[cmd, '--help'], [cmd, '-h'], ['help', cmd]]) {
        const r = await runInProcess(args, ROOT);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.stdout, args.join(' ')).toMatch(new RegExp(`^Usage: factory ${cmd}\\b`));
        expect(r.stderr, args.join(' ')).toBe('');
      }
    }
  });

  it('each command\'s bundle answers its usage and the version when spawned (one form per command, the forms taken in turn)', () => {
    // Every command loads its own bundle (scripts/bundle.mjs): each is spawned once, and the four forms all appear.
    const forms = [(c: string) => [c, '--help'], (c: string) => [c, '-h'], (c: string) => ['help', c], (c: string) => [c, '--version']];
    commands.forEach((cmd, i) => {
      const args = forms[i % forms.length]!(cmd);
      const r = runBuilt(args, ROOT);
      expect(r.code, args.join(' ')).toBe(0);
      if (args.includes('--version')) expect(r.stdout.trim(), args.join(' ')).toBe(VERSION);
      else expect(r.stdout, args.join(' ')).toMatch(new RegExp(`^Usage: factory ${cmd}\\b`));
      expect(r.stderr, args.join(' ')).toBe('');
    });
    expect(commands.length).toBeGreaterThanOrEqual(forms.length);
  });

  it('COMMAND --version prints the version, exit 0 (in-process)', async () => {
    for (const cmd of commands) {
      const r = await runInProcess([cmd, '--version'], ROOT);
      expect(r.code, `${cmd} --version`).toBe(0);
      expect(r.stdout.trim(), `${cmd} --version`).toBe(VERSION);
    }
  });
});

describe('usage mistakes: exit 2 with a suggestion', () => {
  it('an unknown command suggests the nearest', () => {
    const r = runBuilt(['valdate', 'factory.yaml'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'valdate'");
    expect(r.stderr).toMatch(/did you mean validate\?/i);
    expect(crashSigns(r.stderr)).toEqual([]);
  });

  it('an unknown flag of a command suggests the nearest', () => {
    const r = runBuilt(['validate', '--fromat', 'json'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--fromat'");
    expect(r.stderr).toMatch(/did you mean --format\?/i);
  });

  it('an unknown flag of the program suggests the nearest', () => {
    const r = runBuilt(['--verison'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean --version\?/i);
  });

  it('a bad option value names the allowed ones', () => {
    const r = runBuilt(['graph', 'test/fixtures/valid/diamond', '--format', 'svg'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mermaid');
    expect(r.stderr).toContain('dot');
    const v = runBuilt(['validate', 'test/fixtures/valid/diamond', '--format', 'yaml'], ROOT);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('json');
  });

  it('a missing required argument is a usage error', () => {
    const r = runBuilt(['eval'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expression');
  });
});

describe('schema', () => {
  it.each(['', 'factory', 'scenario', 'cassette'])('factory schema %s prints a 2020-12 JSON Schema', (name) => {
    const r = runBuilt(name ? ['schema', name] : ['schema'], ROOT);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { $schema: string; $id: string };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toContain(`${name || 'factory'}.schema.json`);
  });

  it('an unknown schema name is a usage error naming the choices', () => {
    const r = runBuilt(['schema', 'factroy'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory');
    expect(crashSigns(r.stderr)).toEqual([]);
  });
});

describe('init', () => {
  it('writes factory.yaml, scenarios/example.yaml and .gitignore with .factory/, and the result validates and plans', () => {
    const dir = freshDir('init-fresh');
    const r = runBuilt(['init'], dir);
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'factory.yaml'))).toBe(true);
    expect(existsSync(path.join(dir, 'scenarios', 'example.yaml'))).toBe(true);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n')).toContain('.factory/');
    const v = runBuilt(['validate'], dir);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(runBuilt(['plan'], dir).code).toBe(0);
  });

  it('keeps an existing .gitignore and adds the line once', () => {
    const dir = freshDir('init-gitignore');
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules/');
    expect(runBuilt(['init'], dir).code).toBe(0);
    expect(runBuilt(['init', '--force'], dir).code).toBe(0);
    const lines = readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n');
    expect(lines[0]).toBe('node_modules/');
    expect(lines.filter((l) => l === '.factory/')).toHaveLength(1);
  });

  it('refuses to overwrite without --force (exit 2, files unchanged); --force overwrites', () => {
    const dir = freshDir('init-twice');
    expect(runBuilt(['init'], dir).code).toBe(0);
    const file = path.join(dir, 'factory.yaml');
    const scenario = path.join(dir, 'scenarios', 'example.yaml');
    const starter = readFileSync(file, 'utf8');
    writeFileSync(file, 'version: 1\nstages:\n  mine: { kind: command, run: echo mine }\n');
    writeFileSync(scenario, 'name: mine\nsteps: [{ run: "true" }]\n');
    const again = runBuilt(['init'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(file, 'utf8')).toContain('mine');
    expect(readFileSync(scenario, 'utf8')).toContain('mine');
    const forced = runBuilt(['init', '--force'], dir);
    expect(forced.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(starter);
    expect(readFileSync(scenario, 'utf8')).not.toContain('name: mine');
  });

  it('an unknown template is refused with a suggestion', () => {
    const dir = freshDir('init-unknown-template');
    const r = runBuilt(['init', '--template', 'spec-to-cod'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean "spec-to-code"/);
    expect(existsSync(path.join(dir, 'factory.yaml'))).toBe(false);
  });

  it.each(['spec-to-code', 'bugfix', 'review-only'])('--template %s (a docs/templates.md built-in) writes a pipeline that validates', (name) => {
    const dir = freshDir(`init-template-${name}`);
    const r = runBuilt(['init', '--template', name], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const v = runBuilt(['validate'], dir);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
  });
});

describe('eval', () => {
  it('evaluates a condition against --context and prints JSON', () => {
    const context = JSON.stringify({ stages: { test: { outputs: { exit_code: 0 } } }, params: { env: 'dev' } });
    const r = runBuilt(['eval', "stages.test.outputs.exit_code == 0 && params.env != 'prod'", '--context', context], ROOT);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe(true);
  });

  it('keeps types: lists, objects, numbers, null', () => {
    const r = runBuilt(['eval', "fromJSON('{\"a\": [1, 2.5, null]}')"], ROOT);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ a: [1, 2.5, null] });
    const f = runBuilt(['eval', "format('{0}-{1}', 'a', 1)"], ROOT);
    expect(JSON.parse(f.stdout)).toBe('a-1');
    const missing = runBuilt(['eval', 'params.nothing.here'], ROOT);
    expect(missing.code).toBe(0);
    expect(JSON.parse(missing.stdout)).toBeNull();
  });

  it('a bad expression: exit 2, the position, the expression and a caret', () => {
    const r = runBuilt(['eval', 'a =='], ROOT);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^<expression>:1:5 error {2}unexpected end of expression/);
    expect(lines[1]).toMatch(/^\s+1 \| a ==$/);
    expect(lines[2]!.indexOf('^') - lines[2]!.indexOf('|') - 2).toBe(4);
    expect(crashSigns(r.stderr)).toEqual([]);
  });

  it.each([
    ['(a || b', 'expected \')\''],
    ["contains('a')", 'contains() takes 2 arguments'],
    ['nosuch(1)', 'unknown function'],
    ["'unterminated", 'unterminated string'],
    [`${'('.repeat(200)}1${')'.repeat(200)}`, 'nested deeper than 50'],
  ])('eval %j is refused with exit 2 (%s)', (source, text) => {
    const r = runBuilt(['eval', source], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(text);
    expect(r.stderr).toMatch(/^<expression>:1:\d+ error/);
    expect(crashSigns(r.stderr)).toEqual([]);
  });

  it('--context that is not a JSON object is a usage error', () => {
    for (const context of ['{not json', '[1, 2]', 'null']) {
      const r = runBuilt(['eval', 'true', '--context', context], ROOT);
      expect(r.code, context).toBe(2);
      expect(r.stderr).toContain('--context');
    }
  });
});

describe('colour', () => {
  const invalid = ['validate', 'unknown-kind.yaml'];

  it('without a TTY there are no ANSI escapes, and NO_COLOR keeps them off even when forced', () => {
    const plain = runBuilt(invalid, INVALID, { NO_COLOR: undefined, FORCE_COLOR: undefined });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('unknown-kind.yaml:6:11');
    expect(plain.stderr + plain.stdout).not.toMatch(ANSI);
    const both = runBuilt(invalid, INVALID, { NO_COLOR: '1', FORCE_COLOR: '1' });
    expect(both.stderr + both.stdout).not.toMatch(ANSI);
    const help = runBuilt(['--help'], ROOT, { NO_COLOR: undefined, FORCE_COLOR: undefined });
    expect(help.stdout).not.toMatch(ANSI);
  });

  it('FORCE_COLOR=1 colours the diagnostics, and the text under the colour is unchanged', () => {
    const forced = runBuilt(invalid, INVALID, { NO_COLOR: undefined, FORCE_COLOR: '1' });
    const plain = runBuilt(invalid, INVALID);
    expect(forced.code).toBe(2);
    expect(forced.stderr).toMatch(ANSI);
    // eslint-disable-next-line no-control-regex -- it matches the terminal's escape sequences
    expect(forced.stderr.replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain.stderr);
  });
});

describe('bad input through the built binary', () => {
  it.each(['several-mistakes.yaml', 'expr-too-deep.yaml', 'yaml-syntax.yaml', 'scenario-malformed.yaml'])('%s: exit 2, no stack trace', (fixture) => {
    const r = runBuilt(['validate', fixture], INVALID);
    expect(crashSigns(r.stdout + r.stderr)).toEqual([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/:\d+:\d+ error {2}/);
  });

  it('a missing file: exit 2, named, with what to do', () => {
    const dir = freshDir('no-config');
    const r = runBuilt(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml');
    expect(r.stderr).toContain('factory init');
    expect(crashSigns(r.stderr)).toEqual([]);
  });
});
