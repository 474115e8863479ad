/**
 * A problem found before a run starts. Every layer that reads config returns these as values;
 * only the CLI turns them into text (see format.ts in src/cli) and an exit code.
 */
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  /** Path of the file as the user named it (relative to the cwd when possible). */
  file: string;
  /** 1-based line; 0 when the problem has no place in the file (a missing file). */
  line: number;
  /** 1-based column. */
  column: number;
  /** Length of the offending span on its line, for the caret underline (at least 1). */
  length: number;
  severity: Severity;
  /** Stable machine-readable code, e.g. `yaml-syntax`, `unknown-key`, `needs-unknown`. */
  code: string;
  message: string;
  /** How to fix it, when we can say. */
  hint?: string;
  /** The chain of files that led here (templates), outermost first. */
  via?: string[];
}

export interface Position {
  line: number;
  column: number;
  length: number;
  /** Set when the node lives in another file than the one being checked (a template). */
  file?: string;
  /** How that file was reached (`factory.yaml:3:10 extends`), outermost first. */
  via?: string[];
}

export const NO_POSITION: Position = { line: 0, column: 0, length: 1 };

export function diagnostic(
  file: string,
  pos: Position,
  code: string,
  message: string,
  hint?: string,
  severity: Severity = 'error',
): Diagnostic {
  const d: Diagnostic = { file: pos.file ?? file, line: pos.line, column: pos.column, length: Math.max(1, pos.length), severity, code, message };
  if (hint !== undefined) d.hint = hint;
  if (pos.via?.length) d.via = [...pos.via];
  return d;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Sort by file, then position, so all problems of one pass read top to bottom. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags.sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code),
  );
}

/** Results that may fail carry diagnostics instead of throwing. */
export type Result<T> = { ok: true; value: T; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };
