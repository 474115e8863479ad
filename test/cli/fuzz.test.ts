/**
 * Fuzzing `validate` (and `plan`/`graph` on a sample): 2,000 mutations of the valid configs
 * (the SPEC example and test/fixtures/valid/*), through the CLI's own entry function, and a
 * sample of them through the built binary. Whatever the input, the answer is exit 0 or 2 with
 * a message, never a stack trace or an internal error.
 *
 * Deterministic: the PRNG is seeded (FACTORY_FUZZ_SEED overrides the seed; FACTORY_FUZZ_CASES the
 * count). A failure prints the seed, the case number and the mutations, and keeps the failing
 * inputs in a folder it names.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { crashSigns } from '../config/expectations.js';
import { ROOT, runBuilt, runInProcess, type CliResult } from '../support/cli.js';

const SEED = Number(process.env.FACTORY_FUZZ_SEED ?? 0x5eed_f00d) >>> 0;
const CASES = Number(process.env.FACTORY_FUZZ_CASES ?? 2000);
/** Every Nth case also goes through `plan` and `graph`. */
const PLAN_EVERY = 5;
const BUILT_SAMPLE = 16;

const VALID = path.join(ROOT, 'test/fixtures/valid');
const BASES = readdirSync(VALID, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

// ---------------------------------------------------------------------------------------------
// A small seeded PRNG (mulberry32) and helpers.

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Segment = string | number;

const isMap = (v: unknown): v is { [key: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// What the mutations put in.

const WEIRD_STRINGS: readonly string[] = [
  '', ' ', '${{', '${{ }}', '}}', '${{ stages.', '${{ params.', '${{ loop.previous }}', '${{ (((( }}', '${{ a == }}',
  '${{ success() }}', '${{ stages.*.status }}', "${{ format('{0}{1}', 1) }}", "${{ fromJSON('{') }}", '${{ toJSON(stages) }}',
  '${{ stages.plan.outputs.text }}', '${{ env.HOME }}', '${{ run.id }}', '${{ budget.spent_usd > 1 }}', '${{ 0x1F + 1e3 }}',
  '"', "'", '\\', '`', '\u0000', '\u0007', '\u001b[31mred\u001b[0m', '\t', '\n', '\r\n', '\r', '\u2028', '\u202e', '\ufeff',
  '😀', '🚀 build 🧪', 'ß', 'İ', '漢字', '\ud800', 'a'.repeat(5000), '*', '&a', '*a', '!tag', '!!binary x', '%', '@', '- x', ': x', '? x',
  '#', '---', '...', 'null', '~', 'true', 'NO', '1e999', '0x10', '.inf', '-.nan', '5 minutes', '10', '2G', '1.5.3k', '-5', '../../etc/passwd',
  '/abs/path', 'scenarios/*.yaml', '**', 'SPEC.md', 'a'.repeat(70), 'constructor', '__proto__', 'toString', 'hasOwnProperty',
];

const WEIRD_KEYS: readonly string[] = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', '', ' ', 'Build', '1st', 'a b', 'a.b',
  'ünïcode', '😀', '${{ x }}', 'kind', 'needs', 'stages', 'run', 'if', 'until', 'loop', 'end', 'node', 'graph', 'x'.repeat(300),
];

const KINDS = ['plan', 'generate', 'review', 'scenario-validate', 'command', 'loop', 'pipeline', 'approve', 'comand', '', 'LOOP'];

function weirdString(rng: Rng): string {
  const r = rng();
  if (r < 0.6) return pick(rng, WEIRD_STRINGS);
  if (r < 0.8) {
    // Random code points, control characters and astral ones included.
    let s = '';
    for (let i = 0, n = 1 + int(rng, 20); i < n; i++) s += String.fromCodePoint(pick(rng, [int(rng, 32), 32 + int(rng, 95), 0x80 + int(rng, 0x780), 0x1f300 + int(rng, 0x300), 0xe000 + int(rng, 0x1000)]));
    return s;
  }
  const depth = 1 + int(rng, 300);
  return rng() < 0.5 ? `\${{ ${'('.repeat(depth)}true${')'.repeat(depth)} }}` : `\${{ ${'!'.repeat(depth)}true && ${'('.repeat(depth)} }}`;
}

function randomValue(rng: Rng, depth = 0): Json {
  switch (int(rng, depth > 2 ? 5 : 7)) {
    case 0:
      return weirdString(rng);
    case 1:
      return pick(rng, [0, 1, -1, 2, 0.5, 1.5, -5, 255, 256, 1e21, Number.MAX_SAFE_INTEGER + 2, 1e308, -0, 4.2]);
    case 2:
      return rng() < 0.5;
    case 3:
      return null;
    case 4:
      return pick(rng, ['command', 'plan', 'echo hi', 'npm test', '90s', '2M', 'anthropic', 'replay', 'names', 'json', 'true']);
    case 5:
      return Array.from({ length: int(rng, 4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: int(rng, 4) }, () => [rng() < 0.5 ? pick(rng, WEIRD_KEYS) : pick(rng, ['kind', 'run', 'needs', 'x', 'tokens']), randomValue(rng, depth + 1)]));
  }
}

function deepList(depth: number): Json {
  let v: Json = 'bottom';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

// ---------------------------------------------------------------------------------------------
// Structural mutations, on the parsed config.

/** Every path in the value (the root excluded), to pick one from. */
function allPaths(value: Json, prefix: Segment[] = [], out: Segment[][] = []): Segment[][] {
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([...prefix, i]), allPaths(v, [...prefix, i], out)));
  else if (isMap(value)) {
    for (const [k, v] of Object.entries(value)) {
      out.push([...prefix, k]);
      allPaths(v, [...prefix, k], out);
    }
  }
  return out;
}

function parentOf(root: Json, at: Segment[]): { parent: Json; key: Segment } {
  let parent = root;
  for (const s of at.slice(0, -1)) parent = (parent as Record<string, Json>)[s as string] as Json;
  return { parent, key: at[at.length - 1]! };
}

function setAt(root: Json, at: Segment[], value: Json): void {
  const { parent, key } = parentOf(root, at);
  if (Array.isArray(parent)) parent[key as number] = value;
  else if (isMap(parent)) Object.defineProperty(parent, key as string, { value, enumerable: true, writable: true, configurable: true });
}

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}

/** Maps of stages anywhere in the config (the top level's and every loop body's). */
function stageMaps(config: Json): { [id: string]: Json }[] {
  const out: { [id: string]: Json }[] = [];
  const visit = (stages: Json) => {
    if (!isMap(stages)) return;
    out.push(stages);
    for (const s of Object.values(stages)) if (isMap(s)) visit(s.stages ?? null);
  };
  if (isMap(config)) visit(config.stages ?? null);
  return out;
}

const STRUCTURAL: Record<string, (rng: Rng, config: Json) => string> = {
  deleteKey(rng, config) {
    const paths = allPaths(config).filter((p) => typeof p[p.length - 1] === 'string');
    if (!paths.length) return 'deleteKey(none)';
    const at = pick(rng, paths);
    const { parent, key } = parentOf(config, at);
    delete (parent as Record<string, Json>)[key as string];
    return `deleteKey(${at.join('.')})`;
  },
  swapType(rng, config) {
    const paths = allPaths(config);
    if (!paths.length) return 'swapType(none)';
    const at = pick(rng, paths);
    const { parent, key } = parentOf(config, at);
    const before = typeOf((parent as Record<string, Json>)[key as string] as Json);
    let value = randomValue(rng);
    for (let i = 0; i < 5 && typeOf(value) === before; i++) value = randomValue(rng);
    setAt(config, at, value);
    return `swapType(${at.join('.')}: ${before} → ${typeOf(value)})`;
  },
  weirdString(rng, config) {
    const paths = allPaths(config);
    if (!paths.length) return 'weirdString(none)';
    const at = pick(rng, paths);
    const s = weirdString(rng);
    setAt(config, at, s);
    return `weirdString(${at.join('.')} = ${JSON.stringify(s.slice(0, 30))})`;
  },
  renameKey(rng, config) {
    const paths = allPaths(config).filter((p) => typeof p[p.length - 1] === 'string');
    if (!paths.length) return 'renameKey(none)';
    const at = pick(rng, paths);
    const { parent, key } = parentOf(config, at);
    const old = key as string;
    const typo = old.length > 1 ? old.slice(0, -2) + old.slice(-1) + old.slice(-2, -1) : `${old}x`;
    const name = rng() < 0.5 ? typo : pick(rng, WEIRD_KEYS);
    const entries = Object.entries(parent as Record<string, Json>).map(([k, v]) => [k === old ? name : k, v] as const);
    for (const k of Object.keys(parent as object)) delete (parent as Record<string, Json>)[k];
    for (const [k, v] of entries) Object.defineProperty(parent, k, { value: v, enumerable: true, writable: true, configurable: true });
    return `renameKey(${at.join('.')} → ${JSON.stringify(name.slice(0, 30))})`;
  },
  deepList(rng, config) {
    const paths = allPaths(config);
    const at = paths.length ? pick(rng, paths) : ['stages'];
    setAt(config, at, deepList(150 + int(rng, 100)));
    return `deepList(${at.join('.')})`;
  },
  addStage(rng, config) {
    const maps = stageMaps(config);
    if (!maps.length) return 'addStage(none)';
    const stages = pick(rng, maps);
    const ids = Object.keys(stages);
    const id = rng() < 0.7 ? `fz${int(rng, 1000)}` : pick(rng, WEIRD_KEYS);
    const stage: { [k: string]: Json } = { kind: pick(rng, KINDS) };
    if (ids.length && rng() < 0.8) stage.needs = Array.from({ length: 1 + int(rng, 3) }, () => (rng() < 0.8 ? pick(rng, ids) : pick(rng, [id, 'nope', ...WEIRD_KEYS])));
    if (rng() < 0.7) stage.run = rng() < 0.5 ? 'echo hi' : ['echo', weirdString(rng)];
    if (rng() < 0.5) stage.prompt = weirdString(rng);
    if (rng() < 0.3) stage.if = weirdString(rng);
    if (rng() < 0.2) Object.assign(stage, { max_iterations: int(rng, 3), stages: { inner: { kind: 'command', run: 'true', needs: [id] } } });
    Object.defineProperty(stages, id, { value: stage, enumerable: true, writable: true, configurable: true });
    // Sometimes close a cycle through an existing stage.
    const other = ids.length ? stages[pick(rng, ids)] : undefined;
    if (isMap(other) && rng() < 0.3) other.needs = [...(Array.isArray(other.needs) ? other.needs : []), id];
    return `addStage(${JSON.stringify(id.slice(0, 30))}, ${JSON.stringify(stage).slice(0, 80)})`;
  },
  shuffleStages(rng, config) {
    const maps = stageMaps(config);
    if (!maps.length) return 'shuffleStages(none)';
    const stages = pick(rng, maps);
    const entries = Object.entries(stages);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = int(rng, i + 1);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    for (const [k] of entries) delete stages[k];
    for (const [k, v] of entries) Object.defineProperty(stages, k, { value: v, enumerable: true, writable: true, configurable: true });
    return `shuffleStages(${entries.map(([k]) => k).join(',')})`;
  },
  addCommandStage(rng, config) {
    const maps = stageMaps(config);
    if (!maps.length) return 'addCommandStage(none)';
    const stages = pick(rng, maps);
    const ids = Object.keys(stages);
    const id = pick(rng, ['extra', 'end', 'node', 'graph', 'subgraph', 'a-b', 'a_b', 'x1', 'constructor', 'tostring', `s${int(rng, 100)}`]);
    const needs = [...new Set(Array.from({ length: int(rng, 3) }, () => pick(rng, ids)))].filter((n) => n !== id);
    Object.defineProperty(stages, id, { value: { kind: 'command', run: 'echo extra', ...(needs.length ? { needs } : {}) }, enumerable: true, writable: true, configurable: true });
    return `addCommandStage(${id} needs ${needs.join(',')})`;
  },
  readStages(rng, config) {
    const maps = stageMaps(config);
    if (!maps.length) return 'readStages(none)';
    const stages = pick(rng, maps);
    const ids = Object.keys(stages);
    const target = stages[pick(rng, ids)];
    if (!isMap(target)) return 'readStages(not a map)';
    const read = `\${{ stages.${pick(rng, [...ids, 'nope', 'x'])}.${pick(rng, ['outputs.text', 'status', 'outptus', 'outputs'])} }}`;
    const key = pick(rng, ['prompt', 'if', 'until', 'message', 'rubric', 'system']);
    target[key] = read;
    return `readStages(${key} = ${read})`;
  },
};

// ---------------------------------------------------------------------------------------------
// Textual mutations, on the bytes.

const TEXTUAL: Record<string, (rng: Rng, bytes: Buffer) => [Buffer, string]> = {
  truncate(rng, bytes) {
    const at = int(rng, bytes.length + 1);
    return [bytes.subarray(0, at), `truncate(${at})`];
  },
  duplicateLines(rng, bytes) {
    const lines = bytes.toString('latin1').split('\n');
    const at = int(rng, lines.length);
    const n = 1 + int(rng, 4);
    lines.splice(at, 0, ...lines.slice(at, at + n));
    return [Buffer.from(lines.join('\n'), 'latin1'), `duplicateLines(${at}, ${n})`];
  },
  deleteLine(rng, bytes) {
    const lines = bytes.toString('latin1').split('\n');
    const at = int(rng, lines.length);
    lines.splice(at, 1);
    return [Buffer.from(lines.join('\n'), 'latin1'), `deleteLine(${at})`];
  },
  swapLines(rng, bytes) {
    const lines = bytes.toString('latin1').split('\n');
    const a = int(rng, lines.length);
    const b = int(rng, lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return [Buffer.from(lines.join('\n'), 'latin1'), `swapLines(${a}, ${b})`];
  },
  randomBytes(rng, bytes) {
    const at = int(rng, bytes.length + 1);
    const junk = Buffer.from(Array.from({ length: 1 + int(rng, 16) }, () => int(rng, 256)));
    return [Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]), `randomBytes(${at}, ${junk.toString('hex')})`];
  },
  insertText(rng, bytes) {
    const at = int(rng, bytes.length + 1);
    const text = pick(rng, [...WEIRD_STRINGS.slice(0, 40), '\t', '  ', ': ', '- ', '[', '{', ']', '}', '&x ', '*x', '<<: *x', '---\n', '\n---\n', '? ', '!!map ', '"${{ ', ' }}', `${'['.repeat(200)}`]);
    return [Buffer.concat([bytes.subarray(0, at), Buffer.from(text), bytes.subarray(at)]), `insertText(${at}, ${JSON.stringify(text.slice(0, 20))})`];
  },
  alias(rng, bytes) {
    // Anchors and aliases at value positions: defined, undefined, recursive.
    const lines = bytes.toString('latin1').split('\n');
    const values = lines.map((l, i) => [l, i] as const).filter(([l]) => /: \S/.test(l));
    if (!values.length) return [bytes, 'alias(none)'];
    const [line, at] = pick(rng, values);
    const name = pick(rng, ['a', 'nope', 'x']);
    lines[at] = line.replace(/: (\S.*)$/, rng() < 0.5 ? `: *${name}` : `: &${name} $1`);
    if (rng() < 0.5) {
      const [other, j] = pick(rng, values);
      lines[j] = other.replace(/: (\S.*)$/, `: &${pick(rng, ['a', 'x'])} $1`);
    }
    return [Buffer.from(lines.join('\n'), 'latin1'), `alias(${at}: ${lines[at]!.trim().slice(0, 40)})`];
  },
  reindent(rng, bytes) {
    const lines = bytes.toString('latin1').split('\n');
    const at = int(rng, lines.length);
    lines[at] = pick(rng, [' ', '   ', '\t', '', '      ']) + lines[at]!.trimStart();
    return [Buffer.from(lines.join('\n'), 'latin1'), `reindent(${at})`];
  },
  replaceChar(rng, bytes) {
    if (!bytes.length) return [bytes, 'replaceChar(empty)'];
    const copy = Buffer.from(bytes);
    const at = int(rng, copy.length);
    copy[at] = pick(rng, [0x3a, 0x2d, 0x20, 0x09, 0x22, 0x27, 0x7b, 0x5b, 0x26, 0x2a, 0x23, 0x0a, 0x00, 0xff, 0x7c, 0x3e]);
    return [copy, `replaceChar(${at})`];
  },
};

// ---------------------------------------------------------------------------------------------

interface Case {
  index: number;
  base: string;
  mutations: string[];
  bytes: Buffer;
}

function makeCase(rng: Rng, index: number, sources: Map<string, string>): Case {
  const base = pick(rng, BASES);
  const mutations: string[] = [];
  const mode = rng();
  let bytes: Buffer;
  if (mode < 0.7) {
    const config = parse(sources.get(base)!) as Json;
    for (let i = 0, n = 1 + int(rng, 3); i < n; i++) {
      const name = pick(rng, Object.keys(STRUCTURAL));
      mutations.push(STRUCTURAL[name]!(rng, config));
    }
    bytes = Buffer.from(stringify(config, { aliasDuplicateObjects: false, lineWidth: 0 }));
  } else {
    bytes = Buffer.from(sources.get(base)!);
  }
  if (mode >= 0.5) {
    for (let i = 0, n = 1 + int(rng, 3); i < n; i++) {
      const name = pick(rng, Object.keys(TEXTUAL));
      const [next, label] = TEXTUAL[name]!(rng, bytes);
      bytes = next;
      mutations.push(label);
    }
  }
  return { index, base, mutations, bytes };
}

interface Failure {
  index: number;
  base: string;
  mutations: string[];
  command: string;
  code: number;
  why: string[];
  output: string;
  saved?: string;
}

function judge(r: CliResult, command: string[]): string[] {
  const why = crashSigns(r.stdout + r.stderr);
  if (r.code !== 0 && r.code !== 2) why.push(`exit code ${r.code}`);
  if (r.code === 2 && r.stderr.trim() === '' && !command.includes('json')) why.push('exit 2 without a message');
  if (command.includes('--format') && command.includes('json') && command[0] === 'validate') {
    try {
      const report = JSON.parse(r.stdout) as { valid: boolean; diagnostics: { severity: string }[] };
      if (report.valid !== (r.code === 0)) why.push(`"valid": ${report.valid} with exit ${r.code}`);
      if (r.code === 2 && !report.diagnostics.some((d) => d.severity === 'error')) why.push('exit 2 without an error diagnostic');
    } catch {
      why.push('--format json printed something that is not JSON');
    }
  }
  return why;
}

describe(`fuzz (seed ${SEED}, ${CASES} cases; FACTORY_FUZZ_SEED=${SEED} to replay)`, () => {
  let work: string;
  const sources = new Map<string, string>();

  beforeAll(() => {
    work = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-fuzz-')));
    for (const base of BASES) {
      cpSync(path.join(VALID, base), path.join(work, base), { recursive: true });
      sources.set(base, readFileSync(path.join(VALID, base, 'factory.yaml'), 'utf8'));
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('in-process: validate every case, plan and graph a sample — exit 0 or 2, never a crash', async () => {
    const rng = mulberry32(SEED);
    const keep = path.join(tmpdir(), `factory-fuzz-failures-${SEED}`);
    const failures: Failure[] = [];
    const outcomes = { valid: 0, invalid: 0 };
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      const c = makeCase(rng, i, sources);
      const cwd = path.join(work, c.base);
      writeFileSync(path.join(cwd, 'case.yaml'), c.bytes);
      const commands: string[][] = [i % 2 === 0 ? ['validate', 'case.yaml', '--format', 'json'] : ['validate', 'case.yaml']];
      if (i % PLAN_EVERY === 0) {
        commands.push(c.base === 'params-types' ? ['plan', 'case.yaml', '--set', 'release=1'] : ['plan', 'case.yaml']);
        commands.push(['graph', 'case.yaml', '--format', i % 2 ? 'dot' : 'mermaid']);
      }
      for (const command of commands) {
        let r: CliResult;
        try {
          r = await runInProcess(command, cwd);
        } catch (err) {
          r = { code: -1, stdout: '', stderr: `runInProcess threw: ${(err as Error).stack ?? String(err)}` };
        }
        if (command[0] === 'validate') outcomes[r.code === 0 ? 'valid' : 'invalid']++;
        const why = judge(r, command);
        if (why.length) {
          const saved = path.join(keep, `case-${i}-${c.base}.yaml`);
          mkdirSync(keep, { recursive: true });
          writeFileSync(saved, c.bytes);
          failures.push({ index: i, base: c.base, mutations: c.mutations, command: command.join(' '), code: r.code, why, output: (r.stderr + r.stdout).slice(0, 400), saved });
        }
      }
    }
    const elapsed = Date.now() - started;
    const distinct = [...new Map(failures.map((f) => [f.why.join('; ') + f.output.split('\n')[0], f])).values()];
    expect(
      distinct.slice(0, 8),
      `seed ${SEED}: ${failures.length} failing runs of ${CASES} cases (${distinct.length} distinct) in ${elapsed} ms; inputs kept in ${keep}`,
    ).toEqual([]);
    // The mutations must exercise both answers, or the fuzz tests nothing but the parser.
    expect(outcomes.valid, JSON.stringify(outcomes)).toBeGreaterThan(CASES * 0.05);
    expect(outcomes.invalid, JSON.stringify(outcomes)).toBeGreaterThan(CASES * 0.5);
  }, 120_000);

  it(`built binary: a sample of ${BUILT_SAMPLE} cases — exit 0 or 2, never a crash`, () => {
    // Its own stream of the same seed, so this test replays alone as well.
    const rng = mulberry32(SEED ^ 0xb1170);
    const failures: Failure[] = [];
    for (let i = 0; i < BUILT_SAMPLE; i++) {
      const c = makeCase(rng, i, sources);
      const cwd = path.join(work, c.base);
      writeFileSync(path.join(cwd, 'built-case.yaml'), c.bytes);
      const command = ['validate', 'built-case.yaml'];
      const r = runBuilt(command, cwd);
      const why = judge(r, command);
      if (why.length) failures.push({ index: c.index, base: c.base, mutations: c.mutations, command: command.join(' '), code: r.code, why, output: (r.stderr + r.stdout).slice(0, 400) });
    }
    expect(failures.slice(0, 8), `seed ${SEED}: ${failures.length} of ${BUILT_SAMPLE} built runs failed`).toEqual([]);
  }, 120_000);
});
