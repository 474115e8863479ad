import { formatDiagnostic, summaryLine } from '../config/code-frame.js';
import type { Diagnostic } from '../config/diagnostics.js';
import { useColor, widthOf, type CliIO } from '../base/io.js';

/** Prints diagnostics with their code frames to stderr, then a count. */
export function printDiagnostics(io: CliIO, diags: readonly Diagnostic[], sources: ReadonlyMap<string, string> = new Map()): void {
  if (diags.length === 0) return;
  const style = { color: useColor(io, 'stderr'), width: widthOf(io, 'stderr') };
  const blocks = diags.map((d) => formatDiagnostic(d, sources.get(d.file), style));
  io.stderr.write(`${blocks.join('\n\n')}\n\n${summaryLine(diags)}\n`);
}

/** The Diagnostic fields as JSON, for `--format json`. */
export function diagnosticsJson(diags: readonly Diagnostic[], valid: boolean): string {
  return JSON.stringify({ version: 1, valid, diagnostics: diags }, null, 2);
}
