/**
 * The corpus of invalid configs: every file of test/fixtures/invalid/ holds one mistake (a few
 * hold several) and says in its header what `factory validate` must report. Each runs through the
 * CLI's own entry function, in JSON (codes and positions, exactly) and in text (the place named,
 * the offending line shown, no stack trace). Hazards too large or too binary to commit are
 * written to a temp folder here.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/config/diagnostics.js';
import { ROOT, runInProcess } from '../support/cli.js';
import { compare, crashSigns, parseExpectations, type Expectation } from './expectations.js';

const INVALID = path.join(ROOT, 'test/fixtures/invalid');
const fixtures = readdirSync(INVALID).filter((f) => f.endsWith('.yaml')).sort();

interface JsonReport {
  version: number;
  valid: boolean;
  diagnostics: Diagnostic[];
}

async function validateJson(args: string[], cwd: string): Promise<{ code: number; report: JsonReport; raw: string }> {
  const r = await runInProcess(['validate', ...args, '--format', 'json'], cwd);
  let report: JsonReport;
  try {
    report = JSON.parse(r.stdout) as JsonReport;
  } catch {
    throw new Error(`validate --format json did not print JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, raw: r.stdout + r.stderr };
}

const errorsOf = (report: JsonReport) => report.diagnostics.filter((d) => d.severity === 'error');

function isSorted(diags: readonly Diagnostic[]): boolean {
  for (let i = 1; i < diags.length; i++) {
    const a = diags[i - 1]!;
    const b = diags[i]!;
    const order = a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
    if (order > 0) return false;
  }
  return true;
}

describe('invalid fixtures', () => {
  it('the corpus is large enough and every fixture states its expectations', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(45);
    for (const f of fixtures) {
      expect(parseExpectations(readFileSync(path.join(INVALID, f), 'utf8'), f), `${f} has no "# expect:" line`).not.toHaveLength(0);
    }
  });

  describe.each(fixtures)('%s', (fixture) => {
    const text = readFileSync(path.join(INVALID, fixture), 'utf8');
    const expected: Expectation[] = parseExpectations(text, fixture);

    it('--format json: exit 2, exactly the expected codes at the expected line:col, with the expected texts', async () => {
      const { code, report, raw } = await validateJson([fixture], INVALID);
      expect(crashSigns(raw), raw).toEqual([]);
      expect(code).toBe(2);
      expect(report.version).toBe(1);
      expect(report.valid).toBe(false);
      const errors = errorsOf(report);
      expect(compare(expected, errors), JSON.stringify(errors, null, 2)).toEqual([]);
      expect(isSorted(report.diagnostics), 'diagnostics sorted by file, line, column').toBe(true);
      for (const d of errors) {
        expect(d.message.trim(), 'every error has a message').not.toBe('');
        expect(d.length).toBeGreaterThanOrEqual(1);
      }
    });

    it('text: exit 2, names FILE:LINE:COL, no stack trace, no colour without a TTY', async () => {
      const r = await runInProcess(['validate', fixture], INVALID);
      const out = r.stdout + r.stderr;
      expect(crashSigns(out), out).toEqual([]);
      expect(r.code).toBe(2);
      const heads = r.stderr.split('\n');
      for (const e of expected) {
        const head = `${e.file}:${e.line}:${e.column} error`;
        expect(heads.some((l) => l.startsWith(head)), `a line starts with "${head}" in\n${r.stderr}`).toBe(true);
      }
      // eslint-disable-next-line no-control-regex -- it matches the terminal's escape sequences
      expect(out).not.toMatch(/\u001b\[/);
      expect(r.stderr).toMatch(/\d+ errors?\n$/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Code frames: the shape of docs/running.md.

/** The two lines under `FILE:LINE:COL error ...`: the source line and the caret line. */
function frame(stderr: string, head: string): { source: string; caret: string } | undefined {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.startsWith(head));
  if (i < 0) return undefined;
  return { source: lines[i + 1] ?? '', caret: lines[i + 2] ?? '' };
}

/** Checks the frame of one diagnostic: the offending source line, and carets under `col` for `length` characters. */
function expectFrame(stderr: string, file: string, line: number, col: number, length: number, sourceLine: string): void {
  const f = frame(stderr, `${file}:${line}:${col} error`);
  expect(f, `no diagnostic headed ${file}:${line}:${col} in\n${stderr}`).toBeDefined();
  const src = /^(\s*)(\d+) \| (.*)$/.exec(f!.source);
  expect(src, `the line after the header shows "N | source":\n${stderr}`).not.toBeNull();
  expect(Number(src![2])).toBe(line);
  expect(src![3]).toBe(sourceLine);
  const bar = f!.source.indexOf('|');
  expect(f!.caret.indexOf('|'), `the caret line's gutter lines up with the source line's:\n${stderr}`).toBe(bar);
  const underline = f!.caret.slice(bar + 2);
  const m = /^([ \t]*)(\^+)$/.exec(underline);
  expect(m, `caret line:\n${f!.caret}`).not.toBeNull();
  expect(m![1]!.length, `carets start under column ${col}:\n${f!.source}\n${f!.caret}`).toBe(col - 1);
  expect(m![2]!.length, `carets span ${length} characters`).toBe(length);
}

function sourceLine(file: string, line: number): string {
  return readFileSync(file, 'utf8').split(/\r?\n/)[line - 1]!;
}

describe('code frames', () => {
  let dir: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-frames-')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the docs/running.md example exactly (factory.yaml:14:19, the line, the carets)', async () => {
    copyFileSync(path.join(INVALID, 'needs-unknown.yaml'), path.join(dir, 'factory.yaml'));
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    const spec = [
      'factory.yaml:14:19 error  stage "revew" in needs of "validate" does not exist (did you mean "review"?)',
      '   14 |     needs: [test, revew]',
      '      |                   ^^^^^',
    ];
    expect(r.stderr.split('\n').slice(0, 3)).toEqual(spec);
    expect(r.stderr.split('\n')[3]).toMatch(/^\s+= hint: stages in this scope: test, review$/);
  });

  it.each([
    ['unknown-kind.yaml', 6, 11, 6],
    ['expr-unknown-context.yaml', 8, 28, 5],
    ['run-expression-string.yaml', 8, 22, 17],
    ['yaml-syntax.yaml', 7, 10, 1],
    ['tabs.yaml', 7, 1, 1],
    ['several-mistakes.yaml', 23, 25, 4],
  ])('%s: the offending line and carets under %i:%i', async (fixture, line, col, length) => {
    const r = await runInProcess(['validate', fixture], INVALID);
    expect(r.code).toBe(2);
    expectFrame(r.stderr, fixture, line, col, length, sourceLine(path.join(INVALID, fixture), line));
  });

  it('an error inside a scenario file is shown with that file\'s own line (path relative to the working directory)', async () => {
    const r = await runInProcess(['validate', 'scenario-malformed.yaml'], INVALID);
    expect(r.code).toBe(2);
    const scenario = '_files/bad-scenarios/typo.yaml';
    expectFrame(r.stderr, scenario, 3, 1, 5, sourceLine(path.join(INVALID, scenario), 3));
  });
});

// ---------------------------------------------------------------------------------------------
// Hazards: files that are refused before they are parsed, or that try to make the parser explode.

describe('hazards', () => {
  let dir: string;
  const minimal = 'version: 1\nstages:\n  hello: { kind: command, run: echo hello }\n';

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-hazards-')));
    // Over 1 MiB of otherwise valid YAML.
    writeFileSync(path.join(dir, 'huge.yaml'), minimal + `# ${'x'.repeat(120)}\n`.repeat(9000));
    writeFileSync(path.join(dir, 'binary.yaml'), Buffer.concat([Buffer.from('version: 1\nstages:\n'), Buffer.from([0, 1, 2, 0, 255, 0])]));
    writeFileSync(path.join(dir, 'latin1.yaml'), Buffer.concat([Buffer.from('version: 1\nname: caf'), Buffer.from([0xe9]), Buffer.from('\nstages:\n  a: { kind: command, run: echo }\n')]));
    writeFileSync(path.join(dir, 'zero-bytes.yaml'), '');
    writeFileSync(path.join(dir, 'bom.yaml'), `\uFEFF${minimal}`);
    writeFileSync(path.join(dir, 'crlf.yaml'), readFileSync(path.join(INVALID, 'needs-unknown.yaml'), 'utf8').replace(/\n/g, '\r\n'));
    // Billion laughs: 9 levels of 10 aliases, 10^9 nodes if expanded.
    const levels = 'abcdefghi'.split('');
    const lines = ['version: 1', 'env:', `  A: &a [${Array(10).fill('"lol"').join(', ')}]`];
    for (let i = 1; i < levels.length; i++) lines.push(`  ${levels[i]!.toUpperCase()}: &${levels[i]} [${Array(10).fill(`*${levels[i - 1]}`).join(', ')}]`);
    lines.push('stages:', '  hello: { kind: command, run: echo hello }', '');
    writeFileSync(path.join(dir, 'bomb.yaml'), lines.join('\n'));
    mkdirSync(path.join(dir, 'empty-dir'));
    mkdirSync(path.join(dir, 'good-dir'));
    writeFileSync(path.join(dir, 'good-dir', 'factory.yaml'), minimal);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function refused(file: string, code: string, texts: string[]): Promise<Diagnostic> {
    const { code: exit, report, raw } = await validateJson([file], dir);
    expect(crashSigns(raw), raw).toEqual([]);
    expect(exit).toBe(2);
    const errors = errorsOf(report);
    expect(errors.map((d) => d.code)).toEqual([code]);
    const d = errors[0]!;
    for (const t of texts) expect(`${d.message} ${d.hint ?? ''}`).toContain(t);
    const text = await runInProcess(['validate', file], dir);
    expect(crashSigns(text.stdout + text.stderr)).toEqual([]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(d.file);
    return d;
  }

  it('a file over 1 MiB is refused, naming the limit', async () => {
    const d = await refused('huge.yaml', 'file-too-large', ['huge.yaml', '1 MiB']);
    expect(d.hint).toBeTruthy();
  });

  it('a binary file (NUL bytes) is refused', async () => {
    await refused('binary.yaml', 'file-binary', ['binary', 'UTF-8']);
  });

  it('invalid UTF-8 is refused, saying where', async () => {
    const d = await refused('latin1.yaml', 'file-not-utf8', ['UTF-8']);
    // The bad byte is on line 2, after "name: caf".
    expect(`${d.line}:${d.column} ${d.message}`).toMatch(/^2:10 |offset 20/);
  });

  it('an alias bomb is refused at an alias, without expanding it (the test timeout guards a hang)', async () => {
    const d = await refused('bomb.yaml', 'yaml-alias-bomb', ['alias', '10,000']);
    expect(d.line).toBeGreaterThanOrEqual(4);
    expect(d.line).toBeLessThanOrEqual(11);
    expect(sourceLine(path.join(dir, 'bomb.yaml'), d.line).slice(d.column - 1)).toMatch(/^\*[a-h]/);
  });

  it('an empty file (zero bytes) is refused with a way to start', async () => {
    const d = await refused('zero-bytes.yaml', 'file-empty', ['version: 1']);
    expect(d.hint).toContain('factory init');
  });

  it('a missing file is refused, naming it', async () => {
    await refused('no-such-file.yaml', 'file-missing', ['no-such-file.yaml']);
  });

  it('a directory without factory.yaml is refused, with `factory init` suggested', async () => {
    await refused('empty-dir', 'file-missing', ['empty-dir', 'factory.yaml', 'factory init']);
  });

  it('a directory stands for the factory.yaml inside it', async () => {
    const r = await runInProcess(['validate', 'good-dir'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('is valid');
  });

  it('UTF-8 with a byte-order mark is text like any other', async () => {
    const r = await runInProcess(['validate', 'bom.yaml'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('CRLF line endings keep positions and frames right', async () => {
    const { code, report } = await validateJson(['crlf.yaml'], dir);
    expect(code).toBe(2);
    expect(errorsOf(report).map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(['14:19 needs-unknown']);
    const r = await runInProcess(['validate', 'crlf.yaml'], dir);
    expectFrame(r.stderr, 'crlf.yaml', 14, 19, 5, '    needs: [test, revew]');
    expect(r.stderr).not.toContain('\r');
  });
});
