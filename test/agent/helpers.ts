import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDenyMatcher, createMatcher } from '../../src/workspace/matcher.js';
import { buildTools, TOOL_NAMES, type ToolOptions, type ToolSet } from '../../src/agent/tools/index.js';

/** A temp folder holding `ws/` (the workspace) and `elsewhere/` beside it. */
export function makeSandbox(prefix: string): { root: string; ws: string; elsewhere: string } {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), `factory-${prefix}-`)));
  const ws = path.join(root, 'ws');
  const elsewhere = path.join(root, 'elsewhere');
  mkdirSync(ws);
  mkdirSync(elsewhere);
  writeFileSync(path.join(elsewhere, 'secret.txt'), 'top secret\n');
  return { root, ws, elsewhere };
}

export function put(ws: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(ws, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
}

export function tools(
  ws: string,
  options: Partial<Omit<ToolOptions, 'deny' | 'writes'>> & { deny?: string[]; scenarios?: string[]; writes?: string[] } = {},
): ToolSet {
  const { deny, scenarios, writes, ...rest } = options;
  return buildTools(TOOL_NAMES, {
    workspace: ws,
    deny: createDenyMatcher(deny, scenarios ?? ['scenarios/*.yaml']),
    ...(writes ? { writes: createMatcher(writes) } : {}),
    signal: new AbortController().signal,
    ...rest,
  });
}
