import { type CliIO, useColor } from '../base/io.js';
import type { EngineEvent } from '../records/events.js';
import { palette, type Palette, SYMBOLS } from './format.js';
import { optionLines, shownLines } from './approval-text.js';
import { stageFinishedText } from './plain.js';
import { type Renderer, streamColumns } from './renderer.js';
import { SummaryCollector } from './summary.js';
import { FailureTails } from './failure-tail.js';
import { unreachable } from '../base/unreachable.js';

/**
 * `--quiet`: nothing on success. On stderr: stages that ended in `error`, approvals that wait
 * for an answer (a quiet run must not hang silently), and the summary of a run that did not
 * succeed, with the output tails of its failed stages.
 */
export class QuietRenderer implements Renderer {
  private readonly colors: Palette;
  private readonly summary = new SummaryCollector();
  private readonly tails = new FailureTails();
  private summaryPrinted = false;

  constructor(
    private readonly io: CliIO,
    colors?: Palette,
  ) {
    this.colors = colors ?? palette(useColor(io, 'stderr'));
  }

  emit(event: EngineEvent): void {
    if (event.type === 'run_started') {
      this.maybeSummary();
      this.summaryPrinted = false;
    }
    this.summary.emit(event);
    this.tails.emit(event);
    switch (event.type) {
      case 'stage_finished':
        if (event.status === 'error') this.io.stderr.write(`${stageFinishedText(event, this.colors)}\n`);
        return;
      case 'approval_waiting':
        this.io.stderr.write(this.colors.yellow(`${SYMBOLS.approval} ${event.stage} waiting for approval${event.message ? `: ${event.message}` : ''}`) + '\n');
        for (const line of [...shownLines(event.show ?? []), ...optionLines(event.options ?? [])]) this.io.stderr.write(`${this.colors.yellow(SYMBOLS.approval)}   ${line}\n`);
        this.io.stderr.write(this.colors.yellow(`${SYMBOLS.approval} answer with: ${event.command}`) + '\n');
        return;
      case 'run_finished':
        this.maybeSummary();
        return;
      case 'run_started':
      case 'stage_started':
      case 'stage_output':
      case 'model_call':
      case 'budget_warning':
      case 'watch_change':
      case 'tool_call':
      case 'process':
        return;
      default:
        return unreachable(event, 'event');
    }
  }

  async close(): Promise<void> {
    this.maybeSummary();
  }

  private maybeSummary(): void {
    if (!this.summary.hasRun || this.summaryPrinted) return;
    this.summaryPrinted = true;
    if (this.summary.succeeded) return;
    this.io.stderr.write(this.tails.render(this.colors, this.io.cwd));
    this.io.stderr.write(this.summary.render(this.colors, streamColumns(this.io.stderr)));
  }
}
