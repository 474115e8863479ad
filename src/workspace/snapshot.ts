import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';

/**
 * The engine's own snapshot of the workspace (docs/cache-and-watch.md): path, size, modification time
 * and content hash of every file, except `.git/`, `.factory/`, `node_modules/` and
 * `watch.ignore`; git-ignored files are included. Two snapshots give what changed between
 * them, whatever changed it; the review's diff is the difference between the snapshot taken
 * when the run started and the workspace as it stands.
 *
 * Text files up to MAX_KEPT_FILE_BYTES keep their content (within MAX_KEPT_TOTAL_BYTES in all),
 * so a later diff can show what was there before. A file whose size and mtime did not change
 * since a previous snapshot reuses its hash and content without being read again.
 */
export interface SnapshotEntry {
  size: number;
  mtimeMs: number;
  hash: string;
  /** The text, when it is a text file small enough to keep. */
  text?: string;
  binary: boolean;
}

export type Snapshot = ReadonlyMap<string, SnapshotEntry>;

const ALWAYS_SKIPPED = new Set(['.git', '.factory', 'node_modules']);
export const MAX_KEPT_FILE_BYTES = 1024 * 1024;
const MAX_KEPT_TOTAL_BYTES = 64 * 1024 * 1024;
/** Files larger than this are hashed by size and mtime only (reading them would cost too much). */
const MAX_HASHED_BYTES = 64 * 1024 * 1024;

export interface SnapshotOptions {
  /** `watch.ignore` globs, relative to the workspace. */
  ignore?: readonly string[];
  /** A previous snapshot whose unchanged entries are reused. */
  previous?: Snapshot;
}

export function takeSnapshot(workspace: string, options: SnapshotOptions = {}): Map<string, SnapshotEntry> {
  const ignored = options.ignore && options.ignore.length > 0 ? picomatch([...options.ignore], { dot: true }) : () => false;
  const out = new Map<string, SnapshotEntry>();
  let kept = 0;
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    names.sort();
    for (const name of names) {
      if (ALWAYS_SKIPPED.has(name)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (ignored(childRel)) continue;
      const childAbs = path.join(abs, name);
      let st;
      try {
        st = lstatSync(childAbs);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        walk(childAbs, childRel);
        continue;
      }
      if (!st.isFile()) continue;
      const before = options.previous?.get(childRel);
      if (before && before.size === st.size && before.mtimeMs === st.mtimeMs) {
        out.set(childRel, before);
        if (before.text !== undefined) kept += before.size;
        continue;
      }
      const entry = readEntry(childAbs, st.size, st.mtimeMs, kept);
      if (entry.text !== undefined) kept += entry.size;
      out.set(childRel, entry);
    }
  };
  walk(workspace, '');
  return out;
}

function readEntry(abs: string, size: number, mtimeMs: number, kept: number): SnapshotEntry {
  if (size > MAX_HASHED_BYTES) return { size, mtimeMs, hash: `size:${size}:mtime:${mtimeMs}`, binary: true };
  let data: Buffer;
  try {
    data = readFileSync(abs);
  } catch {
    return { size, mtimeMs, hash: 'unreadable', binary: true };
  }
  const hash = createHash('sha256').update(data).digest('hex');
  const binary = isBinary(data);
  const entry: SnapshotEntry = { size, mtimeMs, hash, binary };
  if (!binary && size <= MAX_KEPT_FILE_BYTES && kept + size <= MAX_KEPT_TOTAL_BYTES) entry.text = data.toString('utf8');
  return entry;
}

/** A NUL byte in the first 8 KiB, as git judges it. */
export function isBinary(data: Uint8Array): boolean {
  const n = Math.min(data.length, 8000);
  for (let i = 0; i < n; i++) if (data[i] === 0) return true;
  return false;
}

export type ChangeKind = 'created' | 'modified' | 'deleted';

export interface FileChange {
  path: string;
  kind: ChangeKind;
}

/** What differs between two snapshots, sorted by path. */
export function changesBetween(before: Snapshot, after: Snapshot): FileChange[] {
  const out: FileChange[] = [];
  for (const [p, a] of after) {
    const b = before.get(p);
    if (!b) out.push({ path: p, kind: 'created' });
    else if (b.hash !== a.hash) out.push({ path: p, kind: 'modified' });
  }
  for (const p of before.keys()) if (!after.has(p)) out.push({ path: p, kind: 'deleted' });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/**
 * A unified diff (git's format, `a/` and `b/` prefixes) of the changes between two snapshots.
 * Paths for which `hide` is true are left out entirely (the holdout); binary files and files
 * whose content was not kept are named with a one-line note.
 */
export function unifiedDiff(before: Snapshot, after: Snapshot, hide: (rel: string) => boolean = () => false): string {
  const parts: string[] = [];
  for (const change of changesBetween(before, after)) {
    if (hide(change.path)) continue;
    const b = before.get(change.path);
    const a = after.get(change.path);
    const oldText = change.kind === 'created' ? '' : b?.text;
    const newText = change.kind === 'deleted' ? '' : a?.text;
    const header = `diff --git a/${change.path} b/${change.path}\n${change.kind === 'created' ? 'new file\n' : change.kind === 'deleted' ? 'deleted file\n' : ''}`;
    if ((b?.binary ?? false) || (a?.binary ?? false)) {
      parts.push(`${header}Binary file ${change.path} ${change.kind}\n`);
      continue;
    }
    if (oldText === undefined || newText === undefined) {
      parts.push(`${header}(${change.path} ${change.kind}; its content is too large to show)\n`);
      continue;
    }
    const from = change.kind === 'created' ? '/dev/null' : `a/${change.path}`;
    const to = change.kind === 'deleted' ? '/dev/null' : `b/${change.path}`;
    parts.push(`${header}--- ${from}\n+++ ${to}\n${hunks(splitLines(oldText), splitLines(newText))}`);
  }
  return parts.join('');
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Hunks with 3 lines of context, from a line diff (Myers' algorithm, with a fallback for huge inputs). */
function hunks(a: string[], b: string[], context = 3): string {
  const ops = lineDiff(a, b);
  let out = '';
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change
    // that is no more than 2*context unchanged lines from the previous one.
    let start = i;
    let back = 0;
    while (start > 0 && back < context && ops[start - 1]!.kind === ' ') {
      start--;
      back++;
    }
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end]!.kind !== ' ') end++;
      let run = 0;
      while (end + run < ops.length && ops[end + run]!.kind === ' ') run++;
      if (end + run < ops.length && run <= 2 * context) {
        end += run;
        continue;
      }
      end += Math.min(run, context);
      break;
    }
    let oldStart = 1;
    let newStart = 1;
    for (let k = 0; k < start; k++) {
      if (ops[k]!.kind !== '+') oldStart++;
      if (ops[k]!.kind !== '-') newStart++;
    }
    const slice = ops.slice(start, end);
    const oldLen = slice.filter((o) => o.kind !== '+').length;
    const newLen = slice.filter((o) => o.kind !== '-').length;
    out += `@@ -${oldLen === 0 ? oldStart - 1 : oldStart},${oldLen} +${newLen === 0 ? newStart - 1 : newStart},${newLen} @@\n`;
    for (const o of slice) out += `${o.kind}${o.line}\n`;
    i = end;
  }
  return out;
}

const MAX_DIFF_WORK = 4_000_000;

function lineDiff(a: string[], b: string[]): Op[] {
  // Common prefix and suffix first: most edits touch a small part of a file.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const midA = a.slice(pre, a.length - suf);
  const midB = b.slice(pre, b.length - suf);
  const ops: Op[] = a.slice(0, pre).map((line) => ({ kind: ' ', line }));
  if (midA.length * midB.length > MAX_DIFF_WORK) {
    for (const line of midA) ops.push({ kind: '-', line });
    for (const line of midB) ops.push({ kind: '+', line });
  } else {
    ops.push(...lcsDiff(midA, midB));
  }
  for (const line of a.slice(a.length - suf)) ops.push({ kind: ' ', line });
  return ops;
}

/** A plain LCS table diff of what is left between the common prefix and suffix. */
function lcsDiff(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) {
      ops.push({ kind: '-', line: a[i++]! });
    } else {
      ops.push({ kind: '+', line: b[j++]! });
    }
  }
  while (i < n) ops.push({ kind: '-', line: a[i++]! });
  while (j < m) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}
