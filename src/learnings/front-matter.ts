import { parseDocument, stringify } from 'yaml';
import type { Learning, LearningFile, LearningWarning } from './learning.js';

/**
 * A learning's file: `---`, YAML front matter (title, tags, files with their hashes, created,
 * updated, run, stage), `---`, then the Markdown body. Read and written with `yaml`.
 */

const FENCE = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;
const FIX = 'fix the YAML between the two `---` lines, or delete the file; `factory learnings list` shows what is read';

export type ParsedLearning = { ok: true; learning: Learning } | { ok: false; warning: LearningWarning };

/** One learning file's text; `at` is its path relative to the workspace, for messages. */
export function parseLearning(text: string, at: string): ParsedLearning {
  const fenced = FENCE.exec(text);
  if (!fenced) return broken(at, 1, 1, 'has no front matter (the file must start with a `---` line and close it with another)');
  const doc = parseDocument(fenced[1]!, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    // +1: the front matter starts on the line after the opening `---`.
    const pos = error.linePos?.[0] ?? { line: 1, col: 1 };
    return broken(at, pos.line + 1, pos.col, `has broken front matter: ${error.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    // yaml refuses aliases that expand too far (an alias bomb) here.
    value = doc.toJS();
  } catch (err) {
    return broken(at, 2, 1, `has front matter that cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return broken(at, 2, 1, 'has front matter that is not a map of keys');
  const m = value as Record<string, unknown>;
  if (typeof m.title !== 'string' || m.title.trim() === '') return broken(at, lineOf(fenced[1]!, doc, 'title'), 1, 'has no `title` in its front matter');
  const files = filesOf(m.files);
  if (!files) return broken(at, lineOf(fenced[1]!, doc, 'files'), 1, '`files` must be a list of {path, sha256}');
  const tags = Array.isArray(m.tags) ? m.tags.filter((t): t is string => typeof t === 'string') : [];
  const learning: Learning = { title: m.title.trim(), tags, files, created: timeOf(m.created), body: text.slice(fenced[0].length).trim(), at };
  if (m.updated !== undefined) learning.updated = timeOf(m.updated);
  if (typeof m.run === 'string') learning.run = m.run;
  if (typeof m.stage === 'string') learning.stage = m.stage;
  return { ok: true, learning };
}

/** The file's text for a learning (its `at` is not part of it). */
export function formatLearning(l: Omit<Learning, 'at'>): string {
  const front: Record<string, unknown> = { title: l.title, tags: l.tags, files: l.files.map((f) => ({ path: f.path, sha256: f.sha256 })), created: l.created };
  if (l.updated !== undefined) front.updated = l.updated;
  if (l.run !== undefined) front.run = l.run;
  if (l.stage !== undefined) front.stage = l.stage;
  return `---\n${stringify(front, { lineWidth: 0 })}---\n\n${l.body.trim()}\n`;
}

function broken(file: string, line: number, column: number, message: string): ParsedLearning {
  return { ok: false, warning: { file, line, column, message: `learning ${file} ${message}; it is left out`, hint: FIX } };
}

function filesOf(v: unknown): LearningFile[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return undefined;
  const out: LearningFile[] = [];
  for (const f of v) {
    if (f === null || typeof f !== 'object') return undefined;
    const { path, sha256 } = f as Record<string, unknown>;
    if (typeof path !== 'string' || typeof sha256 !== 'string') return undefined;
    out.push({ path, sha256 });
  }
  return out;
}

/** A time as written; YAML reads an unquoted timestamp as text here (the core schema), a Date otherwise. */
function timeOf(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' ? v : '';
}

/** The line (in the file, 1-based) of a top-level key of the front matter `source`, else its first line. */
function lineOf(source: string, doc: ReturnType<typeof parseDocument>, key: string): number {
  const items = (doc.contents as { items?: { key: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items;
  const offset = items?.find((i) => i.key.value === key)?.key.range?.[0];
  if (offset === undefined) return 2;
  let line = 2;
  for (let i = 0; i < offset; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}
