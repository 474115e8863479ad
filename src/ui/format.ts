import type { RunStatus, StageStatus } from '../records/events.js';
import type { ReasonName } from '../records/reasons.js';
import { totalTokens, type Usage } from '../base/usage.js';
import { formatDuration } from '../base/duration.js';

/**
 * Small formatters shared by every renderer: durations, token counts, dollars, status symbols
 * and colours. Pure functions; colour is a Palette chosen once from `useColor`.
 */


/** `950`, `12.3k`, `123k`, `4.5M`. */
export function formatTokens(count: number): string {
  const n = Number.isFinite(count) && count > 0 ? count : 0;
  if (n < 1000) return String(Math.round(n));
  if (Math.round(n / 1000) < 1000) return compact(n / 1000, 'k');
  return compact(n / 1_000_000, 'M');
}

/** `$0.0123` below a dollar, `$1.20` from a dollar on. */
export function formatUsd(usd: number): string {
  const n = Number.isFinite(usd) && usd > 0 ? usd : 0;
  if (n === 0) return '$0.00';
  if (n < 0.99995) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(2)}`;
}



/** `1.2k tokens · $0.0123`, or '' when nothing was used. */
export function formatUsage(usage: Usage | undefined, costUsd: number): string {
  const tokens = totalTokens(usage);
  if (tokens === 0 && !(costUsd > 0)) return '';
  return `${formatTokens(tokens)} tokens · ${formatUsd(costUsd)}`;
}

/**
 * `exit_code: exit code 1`, `if`, or '' when there is no reason. A word is not said twice: with
 * the `status` it stands beside (`cancelled`, not `cancelled (cancelled: interrupted)`), nor when
 * the message already begins with the reason (`budget: budget tokens exhausted`).
 */
export function formatReason(reason: ReasonName | undefined, message: string | undefined, status?: string): string {
  const msg = message?.trim() ?? '';
  const said = reason !== undefined && (reason === status || new RegExp(`^${reason}\\b`, 'i').test(msg));
  if (said) return msg === '' && reason === status ? '' : msg || reason;
  if (reason && msg) return `${reason}: ${msg}`;
  return reason ?? msg;
}

/**
 * A budget warning's figures in the budget's own unit. The engine names budgets like
 * `tokens`, `cost_usd` or `wall_time` (optionally prefixed by a scope); wall time is in ms.
 */
export function formatBudgetAmount(budget: string, value: number): string {
  if (/cost|usd|\$/i.test(budget)) return formatUsd(value);
  if (/time/i.test(budget)) return formatDuration(value);
  return formatTokens(value);
}

export function formatPercent(spent: number, limit: number): string {
  if (!(limit > 0)) return '';
  return `${Math.round((spent / limit) * 100)}%`;
}

function compact(value: number, unit: string): string {
  const rounded = Math.round(value * 10) / 10;
  if (rounded < 100) return `${rounded.toFixed(1)}${unit}`;
  return `${Math.round(value)}${unit}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `13:15:02` from an ISO time, in local time (or UTC). Unparseable times print as given. */
export function clockTime(iso: string, utc = false): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const [h, m, s] = utc
    ? [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getHours(), date.getMinutes(), date.getSeconds()];
  return `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
}

// ---------------------------------------------------------------------------------------------
// Colour

export type Paint = (text: string) => string;

export interface Palette {
  enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
  magenta: Paint;
}

const sgr = (open: number, close: number): Paint => (text) => (text === '' ? '' : `\u001b[${open}m${text}\u001b[${close}m`);
const plain: Paint = (text) => text;

/** ANSI colours when `enabled` (decided by `useColor`, which honours NO_COLOR), identity otherwise. */
export function palette(enabled: boolean): Palette {
  if (!enabled) return { enabled, bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain, magenta: plain };
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    magenta: sgr(35, 39),
  };
}

// eslint-disable-next-line no-control-regex -- it matches the terminal's escape sequences
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Columns a string takes on a terminal (ANSI removed; every code point counted as one column). */
export function visibleWidth(text: string): number {
  const plain = text.includes('\u001b') ? stripAnsi(text) : text;
  // Code points, as Array.from counts them, without making the array (a 10,000-row plan asks 60,000 times).
  let width = plain.length;
  for (let i = 0; i < plain.length - 1; i++) {
    const c = plain.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = plain.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        width--;
        i++;
      }
    }
  }
  return width;
}

/** Cut plain text to `width` columns, ending with `…` when cut. */
export function truncate(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}

// ---------------------------------------------------------------------------------------------
// Symbols

export const SYMBOLS = {
  started: '▶',
  succeeded: '✓',
  failed: '✗',
  error: '✗',
  skipped: '↓',
  cancelled: '⊘',
  running: '…',
  warning: '⚠',
  approval: '?',
  model: '◆',
  iteration: '↻',
  watch: '⟳',
} as const;

export type Shown = StageStatus | RunStatus | 'not run' | 'interrupted';

export function statusSymbol(status: Shown): string {
  switch (status) {
    case 'succeeded':
      return SYMBOLS.succeeded;
    case 'failed':
      return SYMBOLS.failed;
    case 'error':
      return SYMBOLS.error;
    case 'skipped':
      return SYMBOLS.skipped;
    case 'cancelled':
      return SYMBOLS.cancelled;
    case 'running':
      return SYMBOLS.running;
    case 'not run':
      return '·';
    case 'interrupted':
      return SYMBOLS.cancelled;
  }
}

export function statusPaint(status: Shown, colors: Palette): Paint {
  switch (status) {
    case 'succeeded':
      return colors.green;
    case 'failed':
    case 'error':
      return colors.red;
    case 'skipped':
    case 'cancelled':
    case 'interrupted':
      return colors.yellow;
    case 'running':
      return colors.cyan;
    case 'not run':
      return colors.dim;
  }
}

/** `✓ succeeded` in the status's colour. */
export function paintStatus(status: Shown, colors: Palette, text: string = status): string {
  return statusPaint(status, colors)(`${statusSymbol(status)} ${text}`);
}
