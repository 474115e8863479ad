/**
 * The header of an invalid fixture says what `factory validate` must report, one line per
 * expected error, in the order the errors must come out (by file, then position):
 *
 *   # expect: LINE:COL CODE TEXT1 | TEXT2 | hint: TEXT3 | not: TEXT4
 *
 * CODE may list acceptable alternatives separated by `/` (for a problem that has no code yet).
 * A piece is a substring of the message; `hint: X` must be in the hint; `not: X` must be in
 * neither. `# file: PATH` (relative to the fixture) names the file the following expectations
 * are about, for errors reported inside another file (a scenario file, say).
 */
import type { Diagnostic } from '../../src/config/diagnostics.js';

export interface Expectation {
  file: string;
  line: number;
  column: number;
  code: string;
  /** Substrings of the message. */
  message: string[];
  /** Substrings of the hint. */
  hint: string[];
  /** Substrings of neither. */
  not: string[];
}

const EXPECT = /^#\s*expect:\s*(\d+):(\d+)\s+(\S+)\s*(.*)$/;
const FILE = /^#\s*file:\s*(.+?)\s*$/;

export function parseExpectations(text: string, fixtureFile: string): Expectation[] {
  const out: Expectation[] = [];
  let file = fixtureFile;
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('#')) break; // the header is the leading comment block
    const f = FILE.exec(line);
    if (f) {
      file = f[1]!;
      continue;
    }
    const m = EXPECT.exec(line);
    if (!m) continue;
    const e: Expectation = { file, line: Number(m[1]), column: Number(m[2]), code: m[3]!, message: [], hint: [], not: [] };
    for (const raw of m[4]!.split('|')) {
      const piece = raw.trim();
      if (piece === '') continue;
      if (piece.startsWith('hint:')) e.hint.push(piece.slice(5).trim());
      else if (piece.startsWith('not:')) e.not.push(piece.slice(4).trim());
      else e.message.push(piece);
    }
    out.push(e);
  }
  return out;
}

export const where = (d: Pick<Diagnostic, 'file' | 'line' | 'column' | 'code'>): string => `${d.file}:${d.line}:${d.column} ${d.code}`;

/** Every way `actual` falls short of `expected`, as readable lines (empty when it matches). */
export function compare(expected: readonly Expectation[], actual: readonly Diagnostic[]): string[] {
  const problems: string[] = [];
  // An alternative code that matches the actual one stands for the expectation.
  const codeFor = (e: Expectation, i: number) => {
    const options = e.code.split('/');
    const d = actual.find((a) => a.file === e.file && a.line === e.line && a.column === e.column && options.includes(a.code)) ?? actual[i];
    return d && options.includes(d.code) ? d.code : options[0]!;
  };
  const got = actual.map(where);
  const want = expected.map((e, i) => `${e.file}:${e.line}:${e.column} ${codeFor(e, i)}`);
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    problems.push(`errors (file:line:col code) differ\n    expected: ${JSON.stringify(want)}\n    got:      ${JSON.stringify(got)}`);
  }
  expected.forEach((e, i) => {
    // Match by place and code when the order is off, so text problems are reported as well.
    const d = actual.find((a) => where(a) === want[i]) ?? actual[i];
    if (!d) return;
    const label = `${want[i]} (got ${where(d)})`;
    for (const t of e.message) if (!d.message.includes(t)) problems.push(`${label}: message lacks ${JSON.stringify(t)}: ${JSON.stringify(d.message)}`);
    for (const t of e.hint) if (!(d.hint ?? '').includes(t)) problems.push(`${label}: hint lacks ${JSON.stringify(t)}: ${JSON.stringify(d.hint ?? null)}`);
    for (const t of e.not) {
      if (`${d.message}\n${d.hint ?? ''}`.includes(t)) problems.push(`${label}: should not say ${JSON.stringify(t)}: ${JSON.stringify(d.message)} / hint ${JSON.stringify(d.hint ?? null)}`);
    }
  });
  return problems;
}

/** A stack trace or the CLI's internal-error banner: never acceptable for bad input. */
export function crashSigns(output: string): string[] {
  const signs: string[] = [];
  if (/^\s{4}at /m.test(output)) signs.push('a stack trace ("    at ..." line)');
  if (/internal error/i.test(output)) signs.push('"internal error"');
  if (/\b(TypeError|RangeError|ReferenceError|SyntaxError): /.test(output)) signs.push('a JavaScript error name');
  return signs;
}
