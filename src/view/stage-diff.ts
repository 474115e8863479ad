import { readFileSync } from 'node:fs';
import { patchFile } from '../records/paths.js';
import type { DiffFile, TranscriptItem } from './model.js';

/**
 * The diff a stage made, from its records: the patch of the records' `changes/` (written for a
 * run exported to a distributed engine, docs/export.md) when there is one; else rebuilt from the
 * agent's own file tools in its transcript — `edit_file` as the lines replaced, `write_file` as
 * the change from what the stage last wrote there (the whole file when it had not).
 */
export function stageDiff(runDir: string, stagePath: string, transcript: readonly TranscriptItem[]): { source: 'patch' | 'tool calls'; files: DiffFile[] } | null {
  const patch = readPatch(runDir, stagePath);
  if (patch) return { source: 'patch', files: patch };
  const files = new Map<string, DiffFile>();
  const written = new Map<string, string>();
  for (const item of transcript) {
    if (item.type !== 'turn') continue;
    for (const use of item.tools) {
      if (use.result?.is_error !== false) continue;
      const input = (use.input ?? {}) as Record<string, unknown>;
      const path = typeof input.path === 'string' ? input.path : undefined;
      if (path === undefined) continue;
      const file = files.get(path) ?? { path, lines: [] };
      if (use.name === 'write_file' && typeof input.content === 'string') {
        file.lines.push(...changeLines(written.get(path), input.content));
        written.set(path, input.content);
      } else if (use.name === 'edit_file' && typeof input.old === 'string' && typeof input.new === 'string') {
        file.lines.push('@@ edit_file @@', ...lines(input.old).map((l) => `-${l}`), ...lines(input.new).map((l) => `+${l}`));
        const before = written.get(path);
        if (before !== undefined) written.set(path, before.replace(input.old, input.new));
      } else continue;
      files.set(path, file);
    }
  }
  return files.size === 0 ? null : { source: 'tool calls', files: [...files.values()] };
}

function lines(text: string): string[] {
  return text.replace(/\n$/, '').split('\n');
}

/** The lines between a common head and tail, as one hunk with three lines of context. */
function changeLines(before: string | undefined, after: string): string[] {
  if (before === undefined) return ['@@ write_file (new content) @@', ...lines(after).map((l) => `+${l}`)];
  const a = lines(before);
  const b = lines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const from = Math.max(0, head - 3);
  const out = [`@@ -${from + 1} +${from + 1} @@`];
  for (let i = from; i < head; i++) out.push(` ${a[i]}`);
  for (let i = head; i < a.length - tail; i++) out.push(`-${a[i]}`);
  for (let i = head; i < b.length - tail; i++) out.push(`+${b[i]}`);
  for (let i = a.length - tail; i < Math.min(a.length, a.length - tail + 3); i++) out.push(` ${a[i]}`);
  return out;
}

/** `changes/<stage>.patch` as files: split at each `diff --git` (or `---`) header. */
function readPatch(runDir: string, stagePath: string): DiffFile[] | undefined {
  let text: string;
  try {
    text = readFileSync(patchFile(runDir, stagePath), 'utf8');
  } catch {
    return undefined;
  }
  const files: DiffFile[] = [];
  for (const line of lines(text)) {
    const header = /^diff --git a\/(.+) b\//.exec(line) ?? (files.length === 0 ? /^\+\+\+ b\/(.+)$/.exec(line) : null);
    if (header) files.push({ path: header[1]!, lines: [] });
    else if (files.length > 0) files.at(-1)!.lines.push(line);
  }
  return files.length > 0 ? files : undefined;
}
