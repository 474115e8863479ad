/**
 * A learning (docs/learnings.md): what a run taught, kept as a Markdown file with YAML front
 * matter under `learnings.dir`, committed with the repository so every machine reads the same.
 */

/** A file a learning is about, with the content hash it had when the learning was written. */
export interface LearningFile {
  path: string;
  sha256: string;
}

export interface Learning {
  title: string;
  tags: string[];
  files: LearningFile[];
  /** ISO 8601: when the title was first written. */
  created: string;
  /** ISO 8601: when a later answer with the same title last rewrote it. */
  updated?: string;
  run?: string;
  stage?: string;
  body: string;
  /** The learning's file, relative to the workspace (POSIX separators). */
  at: string;
}

/** The time ranking and ages go by: the last update, else the creation. */
export function lastWritten(l: Pick<Learning, 'created' | 'updated'>): string {
  return l.updated ?? l.created;
}

/** A problem with one learning file; the other files are still used. */
export interface LearningWarning {
  file: string;
  line: number;
  column: number;
  message: string;
  hint: string;
}

export function warningText(w: LearningWarning): string {
  return `${w.file}:${w.line}:${w.column}: ${w.message} (${w.hint})`;
}
