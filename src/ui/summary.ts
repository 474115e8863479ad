import type { EngineEvent, StageStatus } from '../records/events.js';
import type { ReasonName } from '../records/reasons.js';
import { formatBudgetAmount, formatPercent, formatReason, formatTokens, formatUsd, paintStatus, type Palette, SYMBOLS, statusPaint, statusSymbol, truncate, visibleWidth } from './format.js';
import { StageTree } from './tree.js';
import type { Usage } from '../base/usage.js';
import { totalTokens } from '../base/usage.js';
import { formatDuration } from '../base/duration.js';
import { unreachable } from '../base/unreachable.js';
import { compareIterations, innermost, iterationText, type Iteration } from '../records/iteration.js';

type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

/** One line of the summary table. */
export interface SummaryRow {
  path: string;
  depth: number;
  /** `interrupted`: started and never finished; `not run`: never started. */
  status: StageStatus | 'not run' | 'interrupted';
  reason: ReasonName | undefined;
  message: string | undefined;
  cached: boolean;
  durationMs: number | undefined;
  usage: Usage | undefined;
  costUsd: number;
  /** For a loop body's stage: the iteration whose result is shown (the last one; a chain in nested loops). */
  iteration: Iteration | undefined;
  /** For a loop: how many iterations ran. */
  iterations: number | undefined;
  /** For a fan-out instance: its values (`approach=refactor`). */
  values?: string;
}

/**
 * Keeps what the summary needs from the events of one run: per stage its last `stage_finished`
 * (the last iteration wins inside a loop), iteration counts, budget warnings and `run_finished`.
 */
export class SummaryCollector {
  private tree = new StageTree();
  private readonly finished = new Map<string, Ev<'stage_finished'>>();
  private readonly running = new Map<string, Iteration | undefined>();
  /** Fan-out instances' values, from their `stage_started`. */
  private readonly values = new Map<string, string>();
  /** The latest iteration each loop's body was seen in (a chain in nested loops: an inner loop counts its last run's). */
  private readonly iterations = new Map<string, Iteration>();
  private readonly warnings: Ev<'budget_warning'>[] = [];
  private started: Ev<'run_started'> | undefined;
  private ended: Ev<'run_finished'> | undefined;
  private seen = false;

  emit(event: EngineEvent): void {
    switch (event.type) {
      case 'run_started':
        this.reset();
        this.started = event;
        this.tree = new StageTree(event.stages);
        this.seen = true;
        return;
      case 'run_finished':
        this.ended = event;
        this.seen = true;
        return;
      case 'watch_change':
        return;
      case 'budget_warning':
        this.warnings.push(event);
        break;
      case 'stage_started':
        this.running.set(event.stage, event.iteration);
        if (event.values) this.values.set(event.stage, event.values);
        break;
      case 'stage_finished':
        this.finished.set(event.stage, event);
        this.running.delete(event.stage);
        break;
      case 'stage_output':
      case 'model_call':
      case 'approval_waiting':
      case 'tool_call':
      case 'process':
        break;
      default:
        return unreachable(event, 'event');
    }
    this.seen = true;
    if (!event.stage) return; // a run-wide budget warning
    this.tree.ensure(event.stage);
    if (event.iteration !== undefined) {
      const loop = this.tree.loopOf(event.stage);
      if (loop && compareIterations(event.iteration, this.iterations.get(loop.path)) > 0) this.iterations.set(loop.path, event.iteration);
    }
  }

  /** Whether any event of a run has been seen since the last reset. */
  get hasRun(): boolean {
    return this.seen;
  }

  get runFinished(): Ev<'run_finished'> | undefined {
    return this.ended;
  }

  get runStarted(): Ev<'run_started'> | undefined {
    return this.started;
  }

  /** Whether the run ended and succeeded (quiet mode prints the summary only otherwise). */
  get succeeded(): boolean {
    return this.ended?.status === 'succeeded';
  }

  reset(): void {
    this.tree = new StageTree();
    this.finished.clear();
    this.running.clear();
    this.values.clear();
    this.iterations.clear();
    this.warnings.length = 0;
    this.started = undefined;
    this.ended = undefined;
    this.seen = false;
  }

  rows(): SummaryRow[] {
    // A loop taken from the cache ran no iteration: its body has no rows of its own.
    const cachedLoops = [...this.finished.values()].filter((f) => f.cached).map((f) => `${f.stage}.`);
    // A fan-out stage's body runs under its instances (`attempt[2].generate`), never under its own path.
    const fanned = new Set(this.tree.stages.filter((info) => info.path.endsWith(']')).map((info) => `${info.parent}.`));
    const shown = this.tree.stages.filter((info) => !cachedLoops.some((p) => info.path.startsWith(p)) && !(fanned.size > 0 && [...fanned].some((p) => info.path.startsWith(p)) && !this.finished.has(info.path) && !this.running.has(info.path)));
    return shown.map((info) => {
      const running = this.running.has(info.path);
      // A stage still running when the summary is taken was cut short: its earlier results
      // (a previous iteration's) no longer describe it.
      const done = running ? undefined : this.finished.get(info.path);
      const iterations = innermost(this.iterations.get(info.path));
      return {
        path: info.path,
        depth: info.depth,
        status: running ? 'interrupted' : (done?.status ?? 'not run'),
        reason: done?.reason,
        message: done?.message,
        cached: done?.cached ?? false,
        durationMs: done && done.status !== 'skipped' ? done.duration_ms : undefined,
        usage: done?.usage,
        costUsd: done?.cost_usd ?? 0,
        iteration: running ? this.running.get(info.path) : done?.iteration,
        iterations: info.kind === 'loop' || iterations !== undefined ? iterations : undefined,
        ...(this.values.has(info.path) ? { values: this.values.get(info.path)! } : {}),
      };
    });
  }

  budgetWarnings(): readonly Ev<'budget_warning'>[] {
    return this.warnings;
  }

  /** The summary text (ending with a newline), or '' when no event was seen. */
  render(colors: Palette, width?: number): string {
    if (!this.seen) return '';
    return formatSummary({ rows: this.rows(), warnings: this.warnings, finished: this.ended }, colors, width);
  }
}

export interface SummaryData {
  rows: readonly SummaryRow[];
  warnings: readonly Ev<'budget_warning'>[];
  finished: Ev<'run_finished'> | undefined;
}

interface Column {
  header: string;
  align: 'left' | 'right';
  cell(row: SummaryRow): string;
  paint?(row: SummaryRow, text: string): string;
}

/**
 * The table every run ends with: stage, status, duration, (tokens, cost when any stage used
 * tokens) and reason, then one total line. Columns are aligned on visible width; when `width`
 * is given, the reason column is cut to fit it.
 */
export function formatSummary(data: SummaryData, colors: Palette, width?: number): string {
  const { rows, finished } = data;
  const usageShown =
    rows.some((r) => totalTokens(r.usage) > 0 || r.costUsd > 0) ||
    (finished !== undefined && (totalTokens(finished.usage) > 0 || finished.cost_usd > 0));

  const columns: Column[] = [
    { header: 'stage', align: 'left', cell: stageCell },
    {
      header: 'status',
      align: 'left',
      cell: (r) => `${statusSymbol(r.status)} ${r.status}`,
      paint: (r, text) => statusPaint(r.status, colors)(text),
    },
    { header: 'duration', align: 'right', cell: (r) => (r.durationMs === undefined ? '' : formatDuration(r.durationMs)) },
  ];
  if (usageShown) {
    columns.push(
      { header: 'tokens', align: 'right', cell: (r) => (totalTokens(r.usage) > 0 ? formatTokens(totalTokens(r.usage)) : '-') },
      { header: 'cost', align: 'right', cell: (r) => (r.costUsd > 0 ? formatUsd(r.costUsd) : '-') },
    );
  }
  columns.push({ header: 'reason', align: 'left', cell: reasonCell });

  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) => Math.max(visibleWidth(c.header), ...cells.map((r) => visibleWidth(r[i] ?? ''))));
  const last = columns.length - 1;
  const fixed = widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  const reasonRoom = width !== undefined && Number.isFinite(width) ? Math.max(10, width - fixed) : Infinity;

  const line = (texts: string[], paint: (i: number, text: string) => string): string =>
    texts
      .map((text, i) => {
        if (i === last) return paint(i, truncate(text, reasonRoom));
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleWidth(text)));
        return columns[i]?.align === 'right' ? pad + paint(i, text) : paint(i, text) + pad;
      })
      .join('  ')
      .trimEnd();

  const out: string[] = [''];
  out.push(colors.dim(line(columns.map((c) => c.header), (_i, t) => t)));
  rows.forEach((row, r) => {
    out.push(line(cells[r] ?? [], (i, text) => columns[i]?.paint?.(row, text) ?? text));
  });
  for (const w of data.warnings) out.push(colors.yellow(budgetWarningText(w)));
  out.push(totalLine(finished, colors, usageShown));
  return `${out.join('\n')}\n`;
}

function stageCell(row: SummaryRow): string {
  if (row.values !== undefined) return `${row.path} ${row.values}`;
  if (row.iterations !== undefined) return `${row.path} (${row.iterations} iteration${row.iterations === 1 ? '' : 's'})`;
  if (row.iteration !== undefined) return `${row.path} (${iterationText(row.iteration)})`;
  return row.path;
}

function reasonCell(row: SummaryRow): string {
  const parts: string[] = [];
  if (row.cached) parts.push('cached');
  const reason = formatReason(row.reason, row.message, row.status);
  if (reason) parts.push(reason);
  return parts.join(' · ').replace(/\s*\n\s*/g, ' ');
}

function totalLine(finished: Ev<'run_finished'> | undefined, colors: Palette, usageShown: boolean): string {
  if (!finished) return colors.yellow(`${SYMBOLS.warning} run did not finish`);
  const parts = [
    paintStatus(finished.status === 'running' ? 'running' : finished.status, colors, `run ${finished.status}`),
    `exit ${finished.exit_code}`,
    formatDuration(finished.duration_ms),
  ];
  if (usageShown) parts.push(`${formatTokens(totalTokens(finished.usage))} tokens`, formatUsd(finished.cost_usd));
  if (finished.record) parts.push(`record ${finished.record}`);
  return parts.join(' · ');
}

/** `⚠ budget tokens at 82%: 1.6M of 2.0M (stage build)`. */
export function budgetWarningText(w: Ev<'budget_warning'>): string {
  const pct = formatPercent(w.spent, w.limit);
  const amounts = `${formatBudgetAmount(w.budget, w.spent)} of ${formatBudgetAmount(w.budget, w.limit)}`;
  const where = w.stage ? ` (stage ${w.stage})` : '';
  return `${SYMBOLS.warning} budget ${w.budget}${pct ? ` at ${pct}` : ''}: ${amounts}${where}`;
}
