import path from 'node:path';
import type { StageKind } from '../config/pipeline.js';
import type { EngineEvent } from '../records/events.js';
import { formatReason, type Palette, paintStatus, stripAnsi } from './format.js';
import { cleanLine } from './lines.js';
import { unreachable } from '../base/unreachable.js';
import { iterationKey, iterationText, type Iteration } from '../records/iteration.js';

type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

/** How many of a failed stage's last output lines are shown when a run ends. */
export const TAIL_LINES = 20;
/** How many failed stages get a tail; the others are named with the command that shows them. */
export const TAIL_STAGES = 5;

interface Output {
  /** The last TAIL_LINES whole lines, stdout and stderr in the order they came. */
  lines: string[];
  /** Every line the stage printed in this attempt, for "last 20 of 143". */
  total: number;
  /** The unfinished line of each stream. */
  partial: Map<string, string>;
}

interface Failure {
  event: Ev<'stage_finished'>;
  lines: string[];
  total: number;
}

/**
 * Keeps the last output lines of each stage while a run goes, and the tails of the stages that
 * ended `failed` or `error`, so that a renderer can print them under the run when it ends (as
 * turbo and wireit print a failing task's log): the live tree forgets a stage's output, and in
 * a CI log the lines of a failure are scattered among those of stages running beside it.
 * Only a stage's last attempt counts: a stage that fails and then succeeds (a retry, a later
 * iteration of a loop) shows nothing.
 */
export class FailureTails {
  private readonly outputs = new Map<string, Output>();
  private readonly failures = new Map<string, Failure>();
  private readonly kinds = new Map<string, StageKind>();
  private run = '';
  private dir: string | undefined;

  emit(event: EngineEvent): void {
    switch (event.type) {
      case 'run_started':
        this.outputs.clear();
        this.failures.clear();
        this.kinds.clear();
        this.run = event.run;
        this.dir = event.dir;
        for (const s of event.stages) this.kinds.set(s.path, s.kind);
        return;
      case 'stage_started':
        this.outputs.set(event.stage, { lines: [], total: 0, partial: new Map() });
        this.failures.delete(event.stage);
        return;
      case 'stage_output':
        this.output(event);
        return;
      case 'stage_finished':
        this.finished(event);
        return;
      case 'model_call':
      case 'budget_warning':
      case 'approval_waiting':
      case 'watch_change':
      case 'run_finished':
      case 'tool_call':
      case 'process':
        return;
      default:
        return unreachable(event, 'event');
    }
  }

  /** Whether any failed stage left output to show. */
  get any(): boolean {
    return this.failures.size > 0;
  }

  /**
   * The tails, each under its stage's end line, then how to see all of it; '' when no failed
   * stage printed anything. `cwd` is where the user runs `factory show` from.
   */
  render(colors: Palette, cwd: string): string {
    if (this.failures.size === 0) return '';
    const out: string[] = [];
    const all = [...this.failures];
    for (const [stage, f] of all.slice(0, TAIL_STAGES)) {
      const e = f.event;
      const reason = formatReason(e.reason, e.message, e.status).replace(/\s*\n\s*/g, ' ');
      const where = e.iteration === undefined ? '' : ` in ${iterationText(e.iteration)}`;
      const tail = f.total > f.lines.length ? `the last ${f.lines.length} of its ${f.total} output lines` : `its output (${f.total} line${f.total === 1 ? '' : 's'})`;
      out.push('', `${paintStatus(e.status, colors, `${stage} ${e.status}`)}${reason ? ` (${reason})` : ''}${where} — ${tail}:`);
      if (f.total > f.lines.length) out.push(colors.dim('  ┆ …'));
      for (const line of f.lines) out.push(`${colors.dim('  │')} ${colors.enabled ? line : stripAnsi(line)}`.trimEnd());
      out.push(colors.dim(`  all of it: ${this.showCommand(stage, e.iteration, cwd)}`));
    }
    const rest = all.slice(TAIL_STAGES).map(([stage]) => stage);
    if (rest.length > 0) out.push('', `${rest.length} more failed stage${rest.length === 1 ? '' : 's'} left output: ${rest.join(', ')} (${this.showCommand('STAGE', undefined, cwd)})`);
    return `${out.join('\n')}\n`;
  }

  /** `factory show RUN STAGE [--iteration N] [--dir DIR]`. */
  showCommand(stage: string, iteration: Iteration | undefined, cwd: string): string {
    const rel = this.dir === undefined ? '' : path.relative(cwd, this.dir);
    const parts = ['factory show', this.run, stage];
    if (iteration !== undefined) parts.push(`--iteration ${iterationKey(iteration)}`);
    if (rel !== '') parts.push(`--dir ${shellWord(rel)}`);
    return parts.join(' ');
  }

  private output(event: Ev<'stage_output'>): void {
    let out = this.outputs.get(event.stage);
    if (!out) {
      out = { lines: [], total: 0, partial: new Map() };
      this.outputs.set(event.stage, out);
    }
    const text = (out.partial.get(event.stream) ?? '') + event.chunk;
    const parts = text.split('\n');
    out.partial.set(event.stream, parts.pop() ?? '');
    for (const line of parts) push(out, line);
  }

  private finished(event: Ev<'stage_finished'>): void {
    const out = this.outputs.get(event.stage);
    this.outputs.delete(event.stage);
    if (out) for (const rest of out.partial.values()) if (rest !== '') push(out, rest);
    this.failures.delete(event.stage);
    if (event.status !== 'failed' && event.status !== 'error') return;
    // Kept from an earlier run's record (--resume): its output belongs to that run.
    if (event.kept || event.cached) return;
    // A loop or a nested pipeline prints nothing itself: the stage inside it that failed has the output.
    const kind = this.kinds.get(event.stage);
    if (kind === 'loop' || kind === 'pipeline') return;
    if (!out || out.total === 0) return;
    this.failures.set(event.stage, { event, lines: out.lines, total: out.total });
  }
}

function push(out: Output, raw: string): void {
  const line = cleanLine(raw);
  out.total++;
  out.lines.push(line);
  if (out.lines.length > TAIL_LINES) out.lines.shift();
}

function shellWord(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
