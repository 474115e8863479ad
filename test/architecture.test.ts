import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The rooms of src/ in the order of the flow (docs/design.md): each imports only rooms after it
// in this list. A new room, or an import that goes up the list, fails here until it is placed.
const FLOW = ['cli', 'view', 'watch', 'ui', 'telemetry', 'stages', 'export', 'scenario', 'engine', 'agent', 'providers', 'process', 'learnings', 'records', 'config', 'workspace', 'expr', 'base'];

const SRC = path.resolve(import.meta.dirname, '../src');

function sources(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
}

function roomOf(file: string): string {
  return file.split(path.sep)[0]!;
}

/** Every relative import of one source file, static or dynamic, type-only included. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    found.push(path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return found;
}

describe('the rooms of src/', () => {
  const files = sources();

  it('are all placed in the flow, and every file sits in a room', () => {
    const rooms = new Set(files.map(roomOf));
    expect([...rooms].filter((r) => r.endsWith('.ts'))).toEqual([]);
    expect([...rooms].filter((r) => !FLOW.includes(r)).sort()).toEqual([]);
  });

  it('import only rooms below them in the flow', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = FLOW.indexOf(roomOf(file));
      for (const target of importsOf(file)) {
        const to = FLOW.indexOf(roomOf(target));
        if (to < from) upward.push(`${file} imports ${target} (${roomOf(target)} is above ${roomOf(file)})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('finds the imports it checks (the pattern matches every kind of import)', () => {
    const all = files.flatMap(importsOf);
    expect(all).toContain('engine/run.ts');
    expect(all.length).toBeGreaterThan(files.length);
    // a dynamic import at the command boundary
    expect(files.some((f) => roomOf(f) === 'cli' && /import\(\s*['"]\.\//.test(readFileSync(path.join(SRC, f), 'utf8')))).toBe(true);
  });
});
