import { type CliIO, useColor } from '../base/io.js';
import type { EngineEvent } from '../records/events.js';
import { clockTime, formatReason, formatUsage, palette, type Palette, paintStatus, stripAnsi, SYMBOLS, formatTokens, formatUsd } from './format.js';
import { optionLines, shownLines } from './approval-text.js';
import { keyStage, LineBuffer, outputKey } from './lines.js';
import { compareIterations, innermost, iterationKey, type Iteration } from '../records/iteration.js';
import { type Renderer, streamColumns } from './renderer.js';
import { budgetWarningText, SummaryCollector } from './summary.js';
import { FailureTails } from './failure-tail.js';
import { StageTree } from './tree.js';
import { totalTokens } from '../base/usage.js';
import { formatDuration } from '../base/duration.js';
import { unreachable } from '../base/unreachable.js';

type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export interface PlainOptions {
  /** Print timestamps in UTC instead of local time. */
  utc?: boolean;
  /** Colours; default from `useColor(io, 'stderr')`. */
  colors?: Palette;
}

/**
 * Timestamped lines for CI logs, on stderr: one line per stage start and end, every output
 * line of every stage prefixed with its path, model calls, budget warnings, approvals with the
 * command that answers them, then the summary table when the run finishes.
 */
export class PlainRenderer implements Renderer {
  private readonly colors: Palette;
  private readonly lines = new LineBuffer();
  private readonly summary = new SummaryCollector();
  private readonly tails = new FailureTails();
  private tree = new StageTree();
  /** The iteration (the chain, in nested loops) each loop was last seen in. */
  private readonly loopIteration = new Map<string, Iteration>();
  private summaryPrinted = false;

  constructor(
    private readonly io: CliIO,
    private readonly options: PlainOptions = {},
  ) {
    this.colors = options.colors ?? palette(useColor(io, 'stderr'));
  }

  emit(event: EngineEvent): void {
    if (event.type === 'run_started') this.startRun(event);
    this.summary.emit(event);
    this.tails.emit(event);
    const ts = this.colors.dim(clockTime(event.time, this.options.utc));
    const c = this.colors;
    switch (event.type) {
      case 'run_started':
        this.write(ts, `${c.cyan(SYMBOLS.started)} run ${event.name} ${event.resumed ? 'resumed' : 'started'} (run ${event.run}, ${stageCount(event.stages.length)})`);
        return;
      case 'stage_started':
        this.iterationLine(ts, event);
        this.write(ts, `${c.cyan(SYMBOLS.started)} ${event.stage}${event.values ? ` ${event.values}` : ''} started${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`);
        return;
      case 'stage_output': {
        this.iterationLine(ts, event);
        const key = outputKey(event.stage, event.iteration, event.stream);
        for (const line of this.lines.push(key, event.chunk)) this.outputLine(ts, event.stage, line);
        return;
      }
      case 'model_call':
        this.write(ts, c.dim(`${SYMBOLS.model} ${event.stage} ${event.model}: ${formatTokens(totalTokens(event.usage))} tokens · ${formatUsd(event.cost_usd)}`));
        return;
      case 'budget_warning':
        this.write(ts, c.yellow(budgetWarningText(event)));
        return;
      case 'approval_waiting':
        this.write(ts, c.yellow(`${SYMBOLS.approval} ${event.stage} waiting for approval${event.message ? `: ${event.message}` : ''}`));
        for (const line of [...shownLines(event.show ?? []), ...optionLines(event.options ?? [])]) this.write(ts, `${c.yellow(SYMBOLS.approval)}   ${line}`);
        this.write(ts, c.yellow(`${SYMBOLS.approval} answer with: ${event.command}`));
        return;
      case 'stage_finished':
        this.flushStage(ts, event.stage, event.iteration);
        this.iterationLine(ts, event);
        this.write(ts, stageFinishedText(event, c));
        return;
      case 'watch_change':
        this.write(ts, watchChangeText(event, c));
        return;
      case 'run_finished':
        this.flushAll(ts);
        this.printSummary();
        return;
      // Tool calls and processes are for traces (docs/telemetry.md): nothing to show.
      case 'tool_call':
      case 'process':
        return;
      default:
        return unreachable(event, 'event');
    }
  }

  async close(): Promise<void> {
    this.flushAll();
    if (this.summary.hasRun && !this.summaryPrinted) this.printSummary();
  }

  private startRun(event: Ev<'run_started'>): void {
    this.flushAll();
    if (this.summary.hasRun && !this.summaryPrinted) this.printSummary();
    this.tree = new StageTree(event.stages);
    this.loopIteration.clear();
    this.summaryPrinted = false;
  }

  private printSummary(): void {
    this.summaryPrinted = true;
    this.io.stderr.write(this.tails.render(this.colors, this.io.cwd));
    this.io.stderr.write(this.summary.render(this.colors, streamColumns(this.io.stderr)));
  }

  /** `↻ build iteration 2/4` when an event shows a loop entered a new iteration. */
  private iterationLine(ts: string, event: { stage: string; iteration?: Iteration }): void {
    if (event.iteration === undefined) return;
    const loop = this.tree.loopOf(event.stage);
    // An inner loop starting again in the next outer iteration goes from [1, 2] to [2, 1]: a new iteration.
    if (!loop || compareIterations(this.loopIteration.get(loop.path), event.iteration) >= 0) return;
    this.loopIteration.set(loop.path, event.iteration);
    const of = loop.maxIterations !== undefined ? `/${loop.maxIterations}` : '';
    this.write(ts, `${this.colors.cyan(SYMBOLS.iteration)} ${loop.path} iteration ${innermost(event.iteration)}${of}`);
  }

  private outputLine(ts: string, stage: string, line: string): void {
    const text = this.colors.enabled ? line : stripAnsi(line);
    this.write(ts, `${this.colors.dim(`${stage} │`)} ${text}`.trimEnd());
  }

  /** Output lines a stage left unfinished, printed with the time of its end. */
  private flushStage(ts: string, stage: string, iteration: Iteration | undefined): void {
    const lines = this.lines.flushWhere((key) => {
      const at = keyStage(key);
      return at.stage === stage && at.iteration === iterationKey(iteration);
    });
    for (const [key, line] of lines) this.outputLine(ts, keyStage(key).stage, line);
  }

  private flushAll(ts: string = this.lastTs): void {
    for (const [key, line] of this.lines.flushWhere(() => true)) this.outputLine(ts, keyStage(key).stage, line);
  }

  private lastTs = '';

  private write(ts: string, text: string): void {
    this.lastTs = ts;
    this.io.stderr.write(`${ts} ${text}\n`);
  }
}

/** `✗ test failed (exit_code: exit code 1) 0.3s · 1.2k tokens · $0.0123`. */
export function stageFinishedText(event: Ev<'stage_finished'>, colors: Palette): string {
  const status = event.cached && event.status === 'succeeded' ? `${event.stage} succeeded (cached)` : `${event.stage} ${event.status}`;
  const parts = [paintStatus(event.status, colors, status)];
  const reason = formatReason(event.reason, event.message, event.status).replace(/\s*\n\s*/g, ' ');
  if (reason) parts.push(`(${reason})`);
  if (!event.cached && event.status !== 'skipped') parts.push(formatDuration(event.duration_ms));
  const usage = formatUsage(event.usage, event.cost_usd);
  if (usage) parts.push(`· ${usage}`);
  return parts.join(' ');
}

/** `↻ changed: src/a.ts — rerunning: test, review` (what a watch session shows before a rerun). */
export function watchChangeText(event: Ev<'watch_change'>, colors: Palette): string {
  const changed = `${colors.cyan(SYMBOLS.watch)} changed: ${event.paths.length ? listPaths(event.paths) : '(nothing named)'}`;
  if (event.rerun === undefined) return changed;
  return `${changed} — ${event.rerun.length ? `rerunning: ${listPaths(event.rerun)}` : 'every stage is cached'}`;
}

function stageCount(n: number): string {
  return `${n} stage${n === 1 ? '' : 's'}`;
}

function listPaths(paths: readonly string[]): string {
  const shown = paths.slice(0, 3).join(', ');
  return paths.length > 3 ? `${shown} (+${paths.length - 3} more)` : shown;
}
