/**
 * The quick reader (src/config/quick-yaml.ts) may answer only where `yaml`, the full reader,
 * would give the same value and no error: checked here against `yaml` itself on every YAML file
 * of the project (examples, built-in templates, valid and invalid fixtures), on tricky scalars
 * written plain, quoted and in blocks, and on seeded text mutations of the valid files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { LineCounter, parseAllDocuments } from 'yaml';
import { loadYamlFile, locate } from '../../../src/config/load/load.js';
import { quickYamlValue } from '../../../src/config/load/quick-yaml.js';
import { ROOT } from '../../support/cli.js';
import { yamlMutations } from '../../support/yaml-mutations.js';

/** What the full reader makes of a text: its value, or undefined when it refuses it (or would not take the quick path's shape). */
function fullValue(text: string): { ok: true; value: unknown } | { ok: false } {
  const docs = parseAllDocuments(text, { lineCounter: new LineCounter(), uniqueKeys: true, prettyErrors: false, strict: true });
  if (!Array.isArray(docs) || docs.length !== 1) return { ok: false };
  const doc = docs[0]!;
  if (doc.errors.length > 0) return { ok: false };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return { ok: false };
  }
}

/** The property: the quick reader answers only with the full reader's value. */
function agrees(text: string): { quick: boolean } {
  const quick = quickYamlValue(text);
  if (quick === undefined) return { quick: false };
  const full = fullValue(text);
  expect(full.ok, `the quick reader took what yaml refuses:\n${text}`).toBe(true);
  if (full.ok) expect(quick, `the readers differ on:\n${text}`).toStrictEqual(full.value);
  return { quick: true };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
    .map((d) => path.join(d.parentPath, d.name));
}

const PROJECT_FILES = ['examples', 'pipelines', 'test/fixtures'].flatMap((d) => yamlFiles(path.join(ROOT, d)));

const SCALARS = [
  '1', '-1', '+1', '0', '-0', '007', '0o17', '0x1F', '0b101', '1_000', '1e3', '1E-3', '.5', '5.', '+.inf', '-.Inf', '.nan', '.NaN',
  '12345678901234567890', '1.0', '1.5e+10', 'true', 'True', 'TRUE', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', '~', 'null', 'Null',
  'NULL', '', '2026-11-26', '2026-11-26T10:00:00Z', '12:30', '1:30:00', '0.1.2', 'a b', 'a: b', 'a #c', 'a#c', "'q'", '"q"', '"\\u263A \\x41 \\t"',
  "'it''s'", '"a\\\nb"', '[a, b]', '{a: 1}', '[]', '{}', '|\n  x\n  y', '>\n  x\n  y\n\n  z', '|-\n  x', '>+\n  x\n', '|2\n    x',
  '- a', '"${{ x }}"', '${{ stages.a.outputs.text }}', 'sh -c "echo hi"', "echo 'hi'", '`x`', '%x', '@x', '*x', '&x y', '!x y', '!!str 1',
  '? x', '__proto__', 'constructor', 'toString', 'x\n  continued plain', '"multi\n  line"', '\t', 'a\tb', '😀', '\u2028', '-', '--', '---', '...', ':', '::', 'a:b', '<<: {a: 1}',
  // Where js-yaml 4's own rules differ from YAML 1.2's (quick-yaml.ts resolves numbers as yaml does).
  '-0x1', '+0x1', '0b101', '-0b1', '-0o7', '+0', '-.0', '1e400', '-', '- -', '"a"#b', '[a]#b',
];

describe('the quick YAML reader agrees with yaml', () => {
  test('on every YAML file of the project (examples, built-ins, fixtures; also with CRLF and a BOM), and takes the valid ones', () => {
    expect(PROJECT_FILES.length).toBeGreaterThan(90);
    let taken = 0;
    for (const file of PROJECT_FILES) {
      const text = readFileSync(file, 'utf8');
      if (agrees(text).quick) taken++;
      // Saved on Windows, and with a byte-order mark.
      agrees(text.replace(/\n/g, '\r\n'));
      agrees(`\ufeff${text}`);
    }
    expect(taken).toBeGreaterThan(20);
    for (const dir of ['examples/build-and-test', 'examples/roman-numerals', 'test/fixtures/valid/spec-example']) {
      expect(quickYamlValue(readFileSync(path.join(ROOT, dir, 'factory.yaml'), 'utf8')), dir).toBeDefined();
    }
  });

  test('on tricky scalars as a value, a list item and a key', () => {
    for (const s of SCALARS) {
      const block = s.includes('\n');
      agrees(`version: 1\nk: ${s}\n`);
      if (!block) {
        agrees(`version: 1\nlist:\n  - ${s}\n  - after\n`);
        agrees(`version: 1\n${s}: v\n`);
        agrees(`version: 1\nflow: [${s}, x]\n`);
        agrees(`version: 1\nmap: {k: ${s}}\n`);
      }
    }
  });

  test('on seeded text mutations of the valid files', () => {
    const bases = PROJECT_FILES.filter((f) => f.includes('/valid/') || f.includes('examples/')).map((f) => readFileSync(f, 'utf8'));
    let taken = 0;
    const bits = ['  ', '\t', ':', ': ', '- ', '#', '"', "'", '\n', '[', ']', '{', '}', ',', '&a ', '*a', '!', '? ', '|', '>', '---\n', '~', '0x', '1e', 'yes', '<<: ', '\n#c\n', ' {a} ', '- - ', '-0', '\r', '\ufeff'];
    for (const text of yamlMutations(bases, { seed: 0x0dd_ba11, count: 1500, bits, insert: 0.4, cut: 0.7 })) {
      if (agrees(text).quick) taken++;
    }
    // Both ways are exercised: many mutations stay valid YAML, many do not.
    expect(taken).toBeGreaterThan(300);
    expect(taken).toBeLessThan(1400);
  });
});

describe('the quick reader leaves to yaml what js-yaml 4 reads its own way', () => {
  test.each([
    ['a quoted string going on at the key\'s indent', 'a:\n  b:\n    p: "x\n    y"\n'],
    ['a flow list going on left of its key', 'a:\n  p: [x,\n y]\n'],
    ['a list as a key', 'version: 1\n[a, b]: v\n'],
    ['a map as a key inside a map', 'env: {{ params.dir }}\n'],
    ['a `#` right after a closing bracket', 'x: { a: 1 }#\n'],
    ['an empty first item of a list in a list', 'list:\n  - -\n  - after\n'],
    ['a comment before a value on its own line', 'a:\n#c\n  1\nb: 2\n'],
    ['an alias of a map', 'a: &x { k: 1 }\nb: *x\n'],
  ])('%s', (_name, text) => {
    expect(quickYamlValue(text)).toBeUndefined();
  });

  test('an alias of a scalar and a number are read as yaml reads them', () => {
    expect(quickYamlValue('a: &x hello\nb: *x\nz: -0\nh: 0x1F\no: 0o17\nbin: 0b1\nneg: -0x1\n')).toStrictEqual({ a: 'hello', b: 'hello', z: -0, h: 31, o: 15, bin: '0b1', neg: '-0x1' });
  });
});

describe('a file read the quick way', () => {
  test('still reports positions: the yaml document is built when one is asked for', () => {
    const loaded = loadYamlFile(path.join(ROOT, 'examples/build-and-test/factory.yaml'), ROOT);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const stages = Object.keys((loaded.loaded.value as { stages: Record<string, unknown> }).stages);
    const at = locate(loaded.loaded, ['stages', stages[1]!], 'key');
    expect(at.line).toBeGreaterThan(1);
    expect(loaded.loaded.text.split('\n')[at.line - 1]!.slice(at.column - 1)).toMatch(new RegExp(`^${stages[1]}:`));
  });
});
