import type { Diagnostic } from './diagnostics.js';

export interface FrameStyle {
  color: boolean;
  /** The terminal's width: long messages and hints wrap to it (undefined: no wrapping). */
  width?: number | undefined;
}

/** Words of `text` in lines of at most `width` columns after the first line's `first` columns; later lines start with `indent`. */
export function wrapWords(text: string, width: number | undefined, first: number, indent: string): string {
  if (width === undefined || first + text.length <= width) return text;
  const lines: string[] = [];
  let line = '';
  let room = Math.max(20, width - first);
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
      room = Math.max(20, width - indent.length);
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

const codes = { red: [31, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22] } as const;
type Colour = keyof typeof codes;

function paint(style: FrameStyle, colour: Colour, text: string): string {
  if (!style.color) return text;
  const [open, close] = codes[colour];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

/**
 * Renders a diagnostic the way docs/running.md shows it:
 *
 *   factory.yaml:14:19 error  stage "revew" in needs of "validate" does not exist (did you mean "review"?)
 *      14 |     needs: [test, revew]
 *         |                   ^^^^^
 *         = hint: ...
 */
export function formatDiagnostic(d: Diagnostic, sourceText: string | undefined, style: FrameStyle): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const sev = d.severity === 'error' ? paint(style, 'red', 'error') : paint(style, 'yellow', 'warning');
  const gutterWidth = Math.max(5, String(d.line).length + 1);
  const continued = ' '.repeat(gutterWidth + 1);
  const head = `${where} ${d.severity}  `;
  const out = [`${paint(style, 'bold', where)} ${sev}  ${wrapWords(d.message, style.width, head.length, continued)}`];
  const lines = sourceText?.split(/\r?\n/);
  const lineText = d.line > 0 ? lines?.[d.line - 1] : undefined;
  const gutter = (label: string) => paint(style, 'dim', `${label.padStart(gutterWidth)} |`);
  if (lineText !== undefined) {
    const shown = lineText.length > 200 ? lineText.slice(0, 200) + '…' : lineText;
    out.push(`${gutter(String(d.line))} ${shown}`);
    // Keep tabs in the caret's indentation so it lines up however the terminal renders them.
    const indent = lineText.slice(0, Math.max(0, d.column - 1)).replace(/[^\t]/g, ' ');
    const width = Math.max(1, Math.min(d.length, Math.max(1, shown.length - (d.column - 1))));
    out.push(`${gutter('')} ${indent}${paint(style, d.severity === 'error' ? 'red' : 'yellow', '^'.repeat(width))}`);
  }
  if (d.hint) out.push(`${' '.repeat(gutterWidth)} ${paint(style, 'cyan', '= hint:')} ${wrapWords(d.hint, style.width, gutterWidth + 9, ' '.repeat(gutterWidth + 9))}`);
  for (const step of d.via ?? []) out.push(`${' '.repeat(gutterWidth)} ${paint(style, 'dim', `via ${step}`)}`);
  return out.join('\n');
}

export function summaryLine(diags: readonly Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  const parts = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return parts.join(', ');
}
