import type { JsonValue } from '../config/pipeline.js';

/**
 * The `show` values of a question as lines of text, for the terminal prompt and for CI logs: a
 * scalar beside its label, a list of records (a review's findings) as a small table, a list of
 * scalars joined, a map as `key: value` lines.
 */

export interface Shown {
  label: string;
  value: JsonValue;
}

const MAX_CELL = 60;
const MAX_ROWS = 20;
const MAX_COLUMNS = 6;

/** An approve stage's choices, numbered as the keys that choose them on a terminal. */
export function optionLines(options: readonly { id: string; label: string; description?: string }[]): string[] {
  return options.map((o, i) => `[${i + 1}] ${o.label} (${o.id})${o.description ? ` — ${o.description}` : ''}`);
}

export function shownLines(show: readonly Shown[]): string[] {
  return show.flatMap((s) => valueLines(s.label, s.value));
}

function valueLines(label: string, value: JsonValue): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${label}: (none)`];
    if (value.every(isRecord)) return [`${label}:`, ...recordTable(value).map((l) => `  ${l}`)];
    return [`${label}: ${value.map(cell).join(', ')}`];
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return [`${label}: {}`];
    return [`${label}:`, ...entries.map(([k, v]) => `  ${k}: ${cell(v)}`)];
  }
  const text = value === null ? 'null' : String(value);
  const [first, ...rest] = text.trimEnd().split('\n');
  const more = rest.length > MAX_ROWS ? [`  … ${rest.length - MAX_ROWS} more lines`] : [];
  return [`${label}: ${first ?? ''}`, ...rest.slice(0, MAX_ROWS).map((l) => `  ${l}`), ...more];
}

function recordTable(rows: Record<string, JsonValue>[]): string[] {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, MAX_COLUMNS);
  const shown = rows.slice(0, MAX_ROWS).map((r) => columns.map((c) => cell(r[c] ?? null)));
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(columns), ...shown.map(line)];
  if (rows.length > MAX_ROWS) out.push(`… ${rows.length - MAX_ROWS} more`);
  return out;
}

function cell(value: JsonValue): string {
  const text = value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const one = text.replace(/\s*\n\s*/g, ' ');
  return one.length > MAX_CELL ? `${one.slice(0, MAX_CELL - 1)}…` : one;
}

function isRecord(v: unknown): v is Record<string, JsonValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
