/**
 * The valid configs of test/fixtures/valid/ (the docs/configuration.md example among them): they
 * validate, `plan` orders them so that needs come first, `graph` draws every stage and edge,
 * and `--set` converts, checks and reports params.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runInProcess } from '../support/cli.js';
import { crashSigns } from './expectations.js';

const VALID = path.join(ROOT, 'test/fixtures/valid');
const fixtures = readdirSync(VALID, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
/** Params a run needs that have no default. */
const SETS: Record<string, string[]> = { 'params-types': ['--set', 'release=1.0'] };

interface StageInfo {
  path: string;
  id: string;
  scope: string;
  needs: string[];
  loop: boolean;
}

/** Every stage of the file, with its dotted path and the paths of its needs. */
function stagesOf(config: unknown): StageInfo[] {
  const out: StageInfo[] = [];
  const visit = (stages: Record<string, Record<string, unknown>>, scope: string) => {
    for (const [id, def] of Object.entries(stages)) {
      const p = scope ? `${scope}.${id}` : id;
      const needs = (Array.isArray(def.needs) ? (def.needs as string[]) : []).map((n) => (scope ? `${scope}.${n}` : n));
      const loop = def.kind === 'loop';
      out.push({ path: p, id, scope, needs, loop });
      if (loop) visit(def.stages as Record<string, Record<string, unknown>>, p);
    }
  };
  visit((config as { stages: Record<string, Record<string, unknown>> }).stages, '');
  return out;
}

const configOf = (fixture: string) => parse(readFileSync(path.join(VALID, fixture, 'factory.yaml'), 'utf8')) as unknown;
const edgesOf = (stages: StageInfo[]) => stages.flatMap((s) => s.needs.map((n) => `${n} -> ${s.path}`)).sort();

const MERMAID_KEYWORDS = new Set(['end', 'graph', 'subgraph', 'flowchart', 'style', 'class', 'classdef', 'click', 'linkstyle', 'direction', 'default']);
const DOT_KEYWORDS = new Set(['node', 'edge', 'graph', 'digraph', 'subgraph', 'strict']);

/** Stage path → node id, and the edges between stage paths, read back from Mermaid text. */
function readMermaid(text: string): { nodes: Map<string, string[]>; edges: string[]; problems: string[] } {
  const nodes = new Map<string, string[]>();
  const byNode = new Map<string, string[]>();
  const stack: string[] = [];
  const edges: string[] = [];
  const problems: string[] = [];
  const declare = (stagePath: string, node: string) => {
    nodes.set(stagePath, [...(nodes.get(stagePath) ?? []), node]);
    byNode.set(node, [...(byNode.get(node) ?? []), stagePath]);
  };
  const lines = text.split('\n');
  if (!/^(flowchart|graph) (TD|TB|LR|RL|BT)$/.test(lines[0] ?? '')) problems.push(`first line is not a flowchart header: ${lines[0]}`);
  for (const line of lines.slice(1)) {
    let m;
    if ((m = /^\s*subgraph (\S+)\["(.+?) \(loop\)"\]$/.exec(line))) {
      const p = [...stack, m[2]!].join('.');
      declare(p, m[1]!);
      stack.push(m[2]!);
    } else if (/^\s*end$/.test(line)) {
      stack.pop();
    } else if ((m = /^\s*(\S+)\["([^"<]+)(?:<br\/>[^"]*)?"\]$/.exec(line))) {
      declare([...stack, m[2]!].join('.'), m[1]!);
    } else if ((m = /^\s*(\S+) --> (\S+)$/.exec(line))) {
      edges.push(`${m[1]} -> ${m[2]}`);
    } else if (line.trim() !== '') {
      problems.push(`unrecognised line: ${line}`);
    }
  }
  for (const [node, paths] of byNode) if (paths.length > 1) problems.push(`node id "${node}" stands for several stages: ${paths.join(', ')}`);
  for (const node of byNode.keys()) if (MERMAID_KEYWORDS.has(node.toLowerCase())) problems.push(`node id "${node}" is a Mermaid keyword`);
  const toPath = new Map([...byNode].map(([node, paths]) => [node, paths[0]!]));
  return { nodes, edges: edges.map((e) => e.split(' -> ').map((n) => toPath.get(n) ?? `?${n}`).join(' -> ')).sort(), problems };
}

/** The same, from Graphviz dot text; edges to and from a loop attach through lhead/ltail clusters. */
function readDot(text: string): { nodes: Map<string, string[]>; edges: string[]; problems: string[] } {
  const nodes = new Map<string, string[]>();
  const byNode = new Map<string, string[]>();
  const clusters = new Map<string, string>();
  const stack: string[] = [];
  const raw: { from: string; to: string; ltail?: string; lhead?: string }[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  if (!/^digraph "[^"]*" \{$/.test(lines[0] ?? '')) problems.push(`first line is not a digraph header: ${lines[0]}`);
  let pendingCluster: string | undefined;
  for (const line of lines.slice(1)) {
    let m;
    if ((m = /^\s*subgraph (cluster_\S+) \{$/.exec(line))) {
      pendingCluster = m[1]!;
    } else if ((m = /^\s*label="(.+?) \(loop\)";$/.exec(line)) && pendingCluster) {
      const p = [...stack, m[1]!].join('.');
      clusters.set(pendingCluster, p);
      nodes.set(p, [...(nodes.get(p) ?? []), pendingCluster]);
      stack.push(m[1]!);
      pendingCluster = undefined;
    } else if (/^\s*\}$/.test(line)) {
      stack.pop();
    } else if ((m = /^\s*(\S+) \[label="([^"\\]+)\\n[^"]*"\];$/.exec(line))) {
      const p = [...stack, m[2]!].join('.');
      nodes.set(p, [...(nodes.get(p) ?? []), m[1]!]);
      byNode.set(m[1]!, [...(byNode.get(m[1]!) ?? []), p]);
    } else if ((m = /^\s*(\S+) -> (\S+)(?: \[(.*)\])?;$/.exec(line))) {
      const attrs = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((a) => a.trim().split('=') as [string, string]));
      raw.push({ from: m[1]!, to: m[2]!, ltail: attrs.ltail, lhead: attrs.lhead });
    }
  }
  for (const [node, paths] of byNode) if (paths.length > 1) problems.push(`node id "${node}" stands for several stages: ${paths.join(', ')}`);
  for (const node of byNode.keys()) if (DOT_KEYWORDS.has(node.toLowerCase())) problems.push(`node id "${node}" is a DOT keyword (it must be quoted)`);
  const toPath = (node: string, cluster?: string) => (cluster ? clusters.get(cluster) : byNode.get(node)?.[0]) ?? `?${node}`;
  const edges = raw.map((e) => `${toPath(e.from, e.ltail)} -> ${toPath(e.to, e.lhead)}`).sort();
  return { nodes, edges, problems };
}

describe.each(fixtures)('valid fixture %s', (fixture) => {
  const dir = path.join('test/fixtures/valid', fixture);
  const stages = stagesOf(configOf(fixture));
  const sets = SETS[fixture] ?? [];

  it('validates: exit 0, no diagnostics at all', async () => {
    const r = await runInProcess(['validate', dir], ROOT);
    expect(crashSigns(r.stdout + r.stderr)).toEqual([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`is valid: ${stages.length} stage${stages.length === 1 ? '' : 's'}`);
    const json = await runInProcess(['validate', dir, '--format', 'json'], ROOT);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ version: 1, valid: true, diagnostics: [] });
  });

  it('plan lists every stage once, each after its needs and inside its loop', async () => {
    const r = await runInProcess(['plan', dir, ...sets, '--format', 'json'], ROOT);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = (JSON.parse(r.stdout) as { stages: { path: string; needs: string[]; kind: string }[] }).stages;
    expect(rows.map((row) => row.path).sort()).toEqual(stages.map((s) => s.path).sort());
    const position = new Map(rows.map((row, i) => [row.path, i]));
    for (const s of stages) {
      for (const n of s.needs) expect(position.get(n)!, `${n} comes before ${s.path}`).toBeLessThan(position.get(s.path)!);
      if (s.scope) expect(position.get(s.scope)!, `loop ${s.scope} comes before its stage ${s.path}`).toBeLessThan(position.get(s.path)!);
      const row = rows[position.get(s.path)!]!;
      expect(row.needs.map((n) => (s.scope ? `${s.scope}.${n}` : n)).sort()).toEqual([...s.needs].sort());
    }
    const text = await runInProcess(['plan', dir, ...sets], ROOT);
    expect(text.code).toBe(0);
    const table = text.stdout.slice(text.stdout.search(/^#/m));
    const shown = rows.map((row) => table.indexOf(` ${row.path} `));
    expect(shown.every((i) => i > 0), text.stdout).toBe(true);
    expect([...shown].sort((a, b) => a - b), 'the text plan lists stages in the same order').toEqual(shown);
  });

  it('graph --format mermaid draws every stage once and every edge', async () => {
    const r = await runInProcess(['graph', dir, '--format', 'mermaid'], ROOT);
    expect(r.code).toBe(0);
    const g = readMermaid(r.stdout);
    expect(g.problems, r.stdout).toEqual([]);
    expect([...g.nodes.keys()].sort()).toEqual(stages.map((s) => s.path).sort());
    expect(g.edges).toEqual(edgesOf(stages));
  });

  it('graph --format dot draws every stage once and every edge', async () => {
    const r = await runInProcess(['graph', dir, '--format', 'dot'], ROOT);
    expect(r.code).toBe(0);
    const g = readDot(r.stdout);
    expect(g.problems, r.stdout).toEqual([]);
    expect([...g.nodes.keys()].sort()).toEqual(stages.map((s) => s.path).sort());
    expect(g.edges).toEqual(edgesOf(stages));
  });
});

describe('the docs/configuration.md example', () => {
  it('is SPEC.md\'s own text, with its scenario', () => {
    const spec = readFileSync(path.join(VALID, 'spec-example/SPEC.md'), 'utf8');
    expect(spec).toContain(readFileSync(path.join(VALID, 'spec-example/factory.yaml'), 'utf8'));
    expect(spec).toContain(readFileSync(path.join(VALID, 'spec-example/scenarios/converts-1994.yaml'), 'utf8'));
  });

  it('plans the loop body in order: generate, then test and review, then validate', async () => {
    const r = await runInProcess(['plan', 'test/fixtures/valid/spec-example', '--format', 'json'], ROOT);
    const paths = (JSON.parse(r.stdout) as { stages: { path: string }[] }).stages.map((s) => s.path);
    expect(paths).toEqual(['plan', 'build', 'build.generate', 'build.test', 'build.review', 'build.validate']);
  });
});

describe('params and --set', () => {
  const dir = 'test/fixtures/valid/params-types';
  const run = (...args: string[]) => runInProcess(args, ROOT);

  it('--set converts each value to its param type', async () => {
    const r = await run('plan', dir, '--format', 'json', '--set', 'spec=OTHER.md', '--set', 'ratio=0.75', '--set', 'attempts=7',
      '--set', 'dry_run=true', '--set', 'target=prod', '--set', 'level=3', '--set', 'release=2.0');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { params: unknown }).params).toEqual({
      spec: 'OTHER.md', ratio: 0.75, attempts: 7, dry_run: true, target: 'prod', level: 3, release: '2.0',
    });
  });

  it('defaults fill what --set leaves out; a value with "=" in it is kept whole', async () => {
    const r = await run('plan', dir, '--format', 'json', '--set', 'release=a=b');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { params: unknown }).params).toEqual({
      spec: 'SPEC.md', ratio: 0.5, attempts: 3, dry_run: false, target: 'dev', level: 2, release: 'a=b',
    });
  });

  it.each([
    ['attempts=x', ['attempts', 'whole number']],
    ['attempts=1.5', ['attempts', 'whole number']],
    ['ratio=abc', ['ratio', 'a number']],
    ['ratio=', ['ratio', 'a number']],
    ['dry_run=yes', ['dry_run', '`true` or `false`']],
    ['level=7', ['level', 'not an allowed value', '1, 2 or 3']],
    ['target=prdo', ['target', 'did you mean "prod"']],
    ['attemps=3', ['no param "attemps"', 'did you mean "attempts"']],
    ['bad', ['"bad"', 'id=value']],
  ])('--set %s is refused (exit 2) by plan and validate, with a message', async (set, texts) => {
    for (const cmd of ['plan', 'validate']) {
      const r = await run(cmd, dir, '--set', 'release=1', '--set', set);
      expect(crashSigns(r.stdout + r.stderr)).toEqual([]);
      expect(r.code, `${cmd} --set ${set}`).toBe(2);
      for (const t of texts) expect(r.stderr, `${cmd} --set ${set}`).toContain(t);
    }
  });

  it('every bad --set is reported in one pass, not only the first of each kind', async () => {
    const r = await run('plan', dir, '--set', 'release=1', '--set', 'attempts=x', '--set', 'ratio=abc', '--set', 'dry_run=yes',
      '--set', 'attemps=3', '--set', 'targte=prod');
    expect(r.code).toBe(2);
    for (const t of ['attempts=x', 'ratio=abc', 'dry_run=yes', '"attemps"', '"targte"']) expect(r.stderr).toContain(t);
    expect(r.stderr).toMatch(/\n5 errors\n$/);
  });

  it('a required param is not demanded by validate or graph, only by a run (plan)', async () => {
    const v = await run('validate', dir);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const g = await run('graph', dir);
    expect(g.code).toBe(0);
    const p = await run('plan', dir);
    expect(crashSigns(p.stdout + p.stderr)).toEqual([]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain('factory.yaml:11:3 error  param "release" has no default and was not given');
    expect(p.stderr).toContain('--set release=');
    const ok = await run('plan', dir, '--set', 'release=1.0');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('release="1.0"');
  });
});
