import {
  DefaultRenderer,
  Listr,
  type ListrDefaultRendererOptions,
  ListrDefaultRendererLogLevels,
  ListrLogger,
  type ListrTask,
  ListrTaskState,
  type ListrTaskWrapper,
  ProcessOutput,
} from 'listr2';
import { type CliIO, useColor } from '../base/io.js';
import type { EngineEvent, TraceEvent } from '../records/events.js';
import { formatReason, formatTokens, formatUsd, palette, type Palette, stripAnsi, SYMBOLS, statusSymbol } from './format.js';
import type { PromptSurface } from './approval-prompt.js';
import { cleanLine } from './lines.js';
import { type Renderer, streamColumns } from './renderer.js';
import { watchChangeText } from './plain.js';
import { budgetWarningText, SummaryCollector } from './summary.js';
import { FailureTails } from './failure-tail.js';
import { type StageInfo, StageTree } from './tree.js';
import { totalTokens } from '../base/usage.js';
import { formatDuration } from '../base/duration.js';
import { unreachable } from '../base/unreachable.js';
import { compareIterations, innermost, type Iteration } from '../records/iteration.js';

type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;
type StageEvent = Exclude<Extract<EngineEvent, { stage: string }>, TraceEvent>;

/**
 * listr2's default renderer, allowed to draw on any stream we hand it: listr2 picks its
 * fallback renderer whenever `process.stdout` is not a TTY, but we draw on stderr, which is.
 */
class StreamRenderer extends DefaultRenderer {
  static override nonTTY = true;
}

type Ctx = Record<string, never>;
type Wrapper = ListrTaskWrapper<Ctx, typeof StreamRenderer, typeof StreamRenderer>;

export interface TtyOptions {
  /** Colours; default from `useColor(io, 'stderr')`. */
  colors?: Palette;
  /** The clock for elapsed times of running stages (default `Date.now`). */
  now?: () => number;
  /**
   * Milliseconds between refreshes of elapsed times; `false` for none (tests). Default 100, as
   * often as the tenths of a second shown change (listr2 redraws its spinner about as often).
   */
  tick?: number | false;
  /** listr2's lazy mode: no spinner, a frame only when something changes (tests). */
  lazy?: boolean;
}

class Deferred {
  resolved = false;
  readonly promise: Promise<void>;
  private release!: () => void;
  constructor() {
    this.promise = new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }
  resolve(): void {
    this.resolved = true;
    this.release();
  }
}

/** One stage on screen. The engine's events update it; `sync` copies it into its listr2 task. */
interface Node {
  info: StageInfo;
  parent: Node | undefined;
  children: Node[];
  phase: 'waiting' | 'running' | 'finished';
  /** Set when the stage can no longer run: `not run` or `interrupted`. */
  abandoned: string | undefined;
  startedAt: number;
  attempt: number;
  /** For a loop: the iteration its body is in. */
  loopIteration: number;
  /** For a loop: the iteration (the chain, in nested loops) its body was last seen in. */
  loopAt: Iteration | undefined;
  tokens: number;
  costUsd: number;
  lastLine: string | undefined;
  partial: Map<string, string>;
  note: string | undefined;
  approval: Ev<'approval_waiting'> | undefined;
  /** The approval prompt's lines while this stage asks on the terminal. */
  prompt: string[] | undefined;
  finished: Ev<'stage_finished'> | undefined;
  wrapper: Wrapper | undefined;
  /** Opens when the stage first starts (or ends): until then its task stays "waiting". */
  ready: Deferred;
  /** Resolves when the stage can run no more; its task then ends and its line freezes. */
  done: Deferred;
  shown: { title: string; output: string | undefined };
}

/**
 * The TTY renderer: the stage tree as a listr2 task list on stderr. The engine decides when a
 * stage starts and how it ends; each listr2 task only mirrors one stage's state, so every task
 * is concurrent, waits (as listr2's "waiting") until its stage starts, and ends when its stage
 * can run no more (a loop body's stages when the loop ends). Ctrl-C and errors stay with the
 * engine: listr2's signal listeners and exitOnError are off.
 */
export class TtyRenderer implements Renderer, PromptSurface {
  private readonly colors: Palette;
  private readonly now: () => number;
  private readonly summary = new SummaryCollector();
  private readonly tails = new FailureTails();
  private run: RunView | undefined;
  private queue: Promise<void> = Promise.resolve();
  private summaryTaken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: CliIO,
    private readonly options: TtyOptions = {},
  ) {
    this.colors = options.colors ?? palette(useColor(io, 'stderr'));
    this.now = options.now ?? Date.now;
  }

  emit(event: EngineEvent): void {
    if (event.type === 'run_started') this.endRun();
    this.summary.emit(event);
    this.tails.emit(event);
    switch (event.type) {
      case 'run_started':
        this.startRun(event);
        return;
      case 'run_finished':
        this.endRun();
        return;
      case 'watch_change': {
        const text = `${watchChangeText(event, this.colors)}\n`;
        this.queue = this.queue.then(() => void this.io.stderr.write(text));
        return;
      }
      case 'stage_started':
      case 'stage_output':
      case 'model_call':
      case 'budget_warning':
      case 'approval_waiting':
      case 'stage_finished':
        this.run?.update(event);
        return;
      // Tool calls and processes are for traces (docs/telemetry.md): nothing to show.
      case 'tool_call':
      case 'process':
        return;
      default:
        return unreachable(event, 'event');
    }
  }

  /** The approval prompt (src/ui/approval-prompt.ts) draws its lines under the waiting stage. */
  showPrompt(stage: string, lines: string[] | undefined): void {
    this.run?.prompt(stage, lines);
  }

  async close(): Promise<void> {
    this.endRun();
    await this.queue;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private startRun(event: Ev<'run_started'>): void {
    this.summaryTaken = false;
    const run = new RunView(event, this.io, this.colors, this.now, this.options.lazy ?? false);
    this.run = run;
    this.queue = this.queue.then(() => run.start());
    if (this.options.tick !== false && !this.timer) {
      this.timer = setInterval(() => this.run?.tick(), this.options.tick ?? 100);
      this.timer.unref();
    }
  }

  /**
   * Ends the current run's task list; once listr2 has drawn its last frame, prints the run's
   * summary (taken now, before a next run's events arrive).
   */
  private endRun(): void {
    const run = this.run;
    this.run = undefined;
    run?.finish();
    const text = this.summary.hasRun && !this.summaryTaken ? this.tails.render(this.colors, this.io.cwd) + this.summary.render(this.colors, streamColumns(this.io.stderr)) : '';
    this.summaryTaken = true;
    const ended = run ? run.ended : Promise.resolve();
    this.queue = this.queue
      .then(() => ended)
      .then(() => {
        if (text) this.io.stderr.write(text);
      });
  }
}

/** One run's listr2 task list. */
class RunView {
  private readonly tree: StageTree;
  private readonly nodes = new Map<string, Node>();
  private readonly roots: Node[] = [];
  private readonly listr: Listr<Ctx, typeof StreamRenderer, typeof StreamRenderer>;
  private finishing = false;
  private endedResolve!: () => void;
  /** Resolves once listr2 has drawn its last frame and given the stream back. */
  readonly ended = new Promise<void>((resolve) => {
    this.endedResolve = resolve;
  });

  constructor(
    event: Ev<'run_started'>,
    private readonly io: CliIO,
    private readonly colors: Palette,
    private readonly now: () => number,
    lazy: boolean,
  ) {
    this.tree = new StageTree(event.stages);
    for (const info of this.tree.stages) {
      const parent = info.parent === undefined ? undefined : this.nodes.get(info.parent);
      const node = newNode(info, parent);
      this.nodes.set(info.path, node);
      (parent ? parent.children : this.roots).push(node);
    }
    const stream = io.stderr as unknown as NodeJS.WriteStream;
    const rendererOptions: ListrDefaultRendererOptions = {
      collapseSubtasks: false,
      showSubtasks: true,
      collapseSkips: true,
      showSkipMessage: false,
      collapseErrors: true,
      showErrorMessage: false,
      formatOutput: 'truncate',
      removeEmptyLines: true,
      lazy,
      logger: new ListrLogger({
        useIcons: true,
        toStderr: [],
        processOutput: new ProcessOutput(stream, stream, { leaveEmptyLine: false }),
      }),
      icon: listrIcons(),
      color: listrColors(colors),
    };
    this.listr = new Listr<Ctx, typeof StreamRenderer, typeof StreamRenderer>(
      this.roots.map((node) => this.task(node)),
      {
        concurrent: true,
        exitOnError: false,
        registerSignalListeners: false,
        renderer: StreamRenderer,
        rendererOptions,
        fallbackRenderer: StreamRenderer,
        fallbackRendererOptions: rendererOptions,
        ctx: {},
      },
    );
  }

  async start(): Promise<void> {
    try {
      await this.listr.run();
    } catch {
      // exitOnError is off: nothing is thrown on purpose; a renderer must not take the run down.
    } finally {
      this.endedResolve();
    }
  }

  /** The run is over (or the renderer closes): every task may end now. */
  finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    for (const root of this.roots) this.settle(root, true);
  }

  /** Every running stage's elapsed time, read from one clock reading so that a loop never reads less than its body. */
  tick(): void {
    for (const node of this.nodes.values()) if (node.phase === 'running') this.sync(node);
  }

  prompt(stage: string, lines: string[] | undefined): void {
    const node = this.nodes.get(stage);
    if (!node) return;
    node.prompt = lines;
    this.sync(node);
  }

  update(event: StageEvent): void {
    if (!event.stage) {
      if (event.type === 'budget_warning') this.runNote(budgetWarningText(event));
      return;
    }
    const node = this.nodes.get(event.stage);
    if (!node) {
      this.foreign(event);
      return;
    }
    if (event.iteration !== undefined) this.iteration(node, event.iteration);
    switch (event.type) {
      case 'stage_started':
        resetRun(node);
        node.phase = 'running';
        node.startedAt = parseTime(event.time, this.now);
        node.attempt = event.attempt;
        node.ready.resolve();
        break;
      case 'stage_output':
        this.output(node, event);
        break;
      case 'model_call':
        node.tokens += totalTokens(event.usage);
        node.costUsd += event.cost_usd;
        break;
      case 'budget_warning':
        node.note = budgetWarningText(event);
        break;
      case 'approval_waiting':
        node.approval = event;
        break;
      case 'stage_finished':
        node.phase = 'finished';
        node.finished = event;
        node.approval = undefined;
        node.ready.resolve();
        this.settle(node, false);
        break;
      default:
        return unreachable(event, 'stage event');
    }
    this.sync(node);
    this.tick();
  }

  private task(node: Node): ListrTask<Ctx, typeof StreamRenderer, typeof StreamRenderer> {
    let checks = 0;
    return {
      title: node.info.id,
      // listr2 asks once before the list runs, then again before this task runs: the second
      // answer waits for the stage to start, so the task shows as waiting, not as running.
      enabled: () => (checks++ === 0 ? true : node.ready.promise.then(() => true)),
      exitOnError: false,
      task: (_ctx, wrapper) => {
        node.wrapper = wrapper;
        this.sync(node);
        if (node.children.length > 0) {
          return wrapper.newListr(
            node.children.map((child) => this.task(child)),
            { concurrent: true, exitOnError: false },
          );
        }
        return node.done.promise;
      },
    };
  }

  /**
   * A stage whose ancestors have all ended can run no more: end its task, and those of its
   * descendants (stages of a loop body that did not run in the last iteration show "not run").
   */
  private settle(node: Node, force: boolean): void {
    const ancestorsOpen = ancestors(node).some((a) => a.phase !== 'finished' && a.abandoned === undefined);
    if (!force && (node.phase !== 'finished' || ancestorsOpen)) return;
    if (node.phase !== 'finished' && node.abandoned === undefined) {
      node.abandoned = node.phase === 'running' ? 'interrupted' : 'not run';
    }
    for (const child of node.children) {
      // A loop taken from the cache ran no iteration: its body comes with it.
      if (node.finished?.cached && child.phase !== 'finished' && child.abandoned === undefined) child.abandoned = `cached with ${node.info.id}`;
      this.settle(child, true);
    }
    this.sync(node);
    node.ready.resolve();
    node.done.resolve();
  }

  /** An event of a new iteration: the loop's body starts over, its stages wait again. */
  private iteration(node: Node, iteration: Iteration): void {
    const info = this.tree.loopOf(node.info.path);
    const loop = info && this.nodes.get(info.path);
    // An inner loop starting again in the next outer iteration goes from [1, 2] to [2, 1]: a new iteration.
    if (!loop || compareIterations(loop.loopAt, iteration) >= 0) return;
    const again = loop.loopAt !== undefined;
    loop.loopAt = iteration;
    loop.loopIteration = innermost(iteration) ?? 0;
    if (again) {
      for (const d of descendants(loop)) {
        if (d.phase === 'waiting') continue;
        resetRun(d);
        d.phase = 'waiting';
        d.loopIteration = 0;
        d.loopAt = undefined;
        this.sync(d);
      }
    }
    this.sync(loop);
  }

  private output(node: Node, event: Ev<'stage_output'>): void {
    const text = (node.partial.get(event.stream) ?? '') + event.chunk;
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    node.partial.set(event.stream, rest);
    // The last whole line; an unfinished one only when it redraws itself (`\r`) or is all there is.
    const shown = (l: string) => stripAnsi(cleanLine(l)).trim();
    const whole = lines.map(shown).filter((l) => l !== '');
    const partial = shown(rest);
    if (partial !== '' && (rest.includes('\r') || (whole.length === 0 && node.lastLine === undefined))) node.lastLine = partial;
    else if (whole.length > 0) node.lastLine = whole[whole.length - 1];
  }

  /** A stage the engine did not announce at run start: shown on its nearest known ancestor. */
  private foreign(event: StageEvent): void {
    if (event.type !== 'stage_finished' && event.type !== 'stage_started') return;
    const host = ancestorsOfPath(event.stage, this.nodes);
    if (!host) {
      this.runNote(`${event.stage} ${event.type === 'stage_started' ? 'started' : event.status}`);
      return;
    }
    host.note = `${event.stage}${event.type === 'stage_started' && event.values ? ` ${event.values}` : ''} ${event.type === 'stage_started' ? 'started' : event.status}`;
    this.sync(host);
  }

  private runNote(text: string): void {
    const host = this.roots.find((r) => r.phase === 'running') ?? this.roots[0];
    if (!host) return;
    host.note = text;
    this.sync(host);
  }

  /** Copy a node's state into its listr2 task (title, last output line, state). */
  private sync(node: Node): void {
    const wrapper = node.wrapper;
    if (!wrapper) return;
    const title = this.title(node);
    const output = this.outputLine(node);
    const state = taskState(node);
    // A starting task changes state first, an ending one last, so no frame shows a mix.
    const starting = state === ListrTaskState.STARTED;
    if (starting && state !== wrapper.task.state) wrapper.task.state$ = state;
    if (title !== node.shown.title) {
      node.shown.title = title;
      wrapper.title = title;
    }
    if (output !== node.shown.output) {
      node.shown.output = output;
      wrapper.output = output ?? '';
    }
    if (state !== wrapper.task.state) wrapper.task.state$ = state;
  }

  private title(node: Node): string {
    const c = this.colors;
    const parts: string[] = [];
    if (node.loopIteration > 0) {
      const max = node.info.maxIterations;
      parts.push(c.cyan(`iteration ${node.loopIteration}${max !== undefined ? `/${max}` : ''}`));
    }
    const usage = (tokens: number, cost: number) => {
      if (tokens > 0 || cost > 0) parts.push(c.dim(`${formatTokens(tokens)} tokens · ${formatUsd(cost)}`));
    };
    if (node.abandoned !== undefined && node.phase !== 'finished') {
      parts.push(c.yellow(node.abandoned));
    } else if (node.phase === 'running') {
      if (node.prompt) parts.push(c.yellow('waiting for your answer'));
      else if (node.approval) parts.push(c.yellow(`waiting for approval${node.approval.message ? `: ${node.approval.message}` : ''}`));
      if (node.attempt > 1) parts.push(c.yellow(`attempt ${node.attempt}`));
      parts.push(c.dim(formatDuration(this.now() - node.startedAt)));
      usage(node.tokens, node.costUsd);
    } else if (node.phase === 'finished' && node.finished) {
      const f = node.finished;
      const reason = formatReason(f.reason, f.message, f.status).replace(/\s*\n\s*/g, ' ');
      if (f.cached) parts.push(c.cyan('cached'));
      else if (f.status === 'succeeded') parts.push(c.dim(formatDuration(f.duration_ms)));
      else if (f.status === 'skipped' || f.status === 'cancelled') parts.push(c.yellow(f.status + (reason ? ` (${reason})` : '')));
      else parts.push(`${c.red(f.status)}${reason ? c.red(` (${reason})`) : ''}`, c.dim(formatDuration(f.duration_ms)));
      usage(totalTokens(f.usage), f.cost_usd);
    }
    return parts.length > 0 ? `${node.info.id}  ${parts.join(c.dim(' · '))}` : node.info.id;
  }

  private outputLine(node: Node): string | undefined {
    if (node.phase !== 'running') return undefined;
    if (node.prompt) return node.prompt.join('\n');
    if (node.approval) return `answer with: ${node.approval.command}`;
    const line = node.note ?? node.lastLine;
    if (line === undefined) return undefined;
    const width = streamColumns(this.io.stderr);
    return width ? line.slice(0, Math.max(20, width - 4 - 2 * node.info.depth)) : line;
  }
}

function newNode(info: StageInfo, parent: Node | undefined): Node {
  return {
    info,
    parent,
    children: [],
    phase: 'waiting',
    abandoned: undefined,
    startedAt: 0,
    attempt: 1,
    loopIteration: 0,
    loopAt: undefined,
    tokens: 0,
    costUsd: 0,
    lastLine: undefined,
    partial: new Map(),
    note: undefined,
    approval: undefined,
    prompt: undefined,
    finished: undefined,
    wrapper: undefined,
    ready: new Deferred(),
    done: new Deferred(),
    shown: { title: info.id, output: undefined },
  };
}

/** Forget what a stage showed in its previous attempt or iteration. */
function resetRun(node: Node): void {
  node.tokens = 0;
  node.costUsd = 0;
  node.lastLine = undefined;
  node.partial.clear();
  node.note = undefined;
  node.approval = undefined;
  node.prompt = undefined;
  node.finished = undefined;
}

function taskState(node: Node): ListrTaskState {
  if (node.phase === 'finished' && node.finished) {
    switch (node.finished.status) {
      case 'succeeded':
        return ListrTaskState.COMPLETED;
      case 'failed':
      case 'error':
        return ListrTaskState.FAILED;
      case 'skipped':
        return ListrTaskState.SKIPPED;
      case 'cancelled':
        // Drawn with the summary's symbol for cancelled (see listrIcons): no task is rolled back.
        return ListrTaskState.ROLLED_BACK;
    }
  }
  // The summary's words and symbols: interrupted as cancelled, not run as not run (see listrIcons).
  if (node.abandoned === 'interrupted') return ListrTaskState.ROLLED_BACK;
  if (node.abandoned === 'not run') return ListrTaskState.WAITING;
  if (node.abandoned !== undefined) return ListrTaskState.SKIPPED;
  return node.phase === 'running' ? ListrTaskState.STARTED : ListrTaskState.WAITING;
}

function ancestors(node: Node): Node[] {
  const out: Node[] = [];
  for (let p = node.parent; p; p = p.parent) out.push(p);
  return out;
}

function descendants(node: Node): Node[] {
  return node.children.flatMap((child) => [child, ...descendants(child)]);
}

function ancestorsOfPath(path: string, nodes: Map<string, Node>): Node | undefined {
  // A fan-out instance (`attempt[2].generate`) shows on its stage as the file names it.
  if (path.includes('[')) return ancestorsOfPath(`${path.replace(/\[\d+\]/g, '')}.`, nodes);
  for (let cut = path.lastIndexOf('.'); cut > 0; cut = path.lastIndexOf('.', cut - 1)) {
    const node = nodes.get(path.slice(0, cut));
    if (node) return node;
  }
  return undefined;
}

function parseTime(iso: string, now: () => number): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? now() : t;
}

/**
 * listr2's icons, taken from the summary's symbols so that a stage ends with the same mark in
 * the live tree and in the table under it: ✓ succeeded, ✗ failed or error, ↓ skipped,
 * ⊘ cancelled or interrupted (drawn as listr2's "rolled back"), · not run (listr2's "waiting").
 */
function listrIcons(): ListrDefaultRendererOptions['icon'] {
  const L = ListrDefaultRendererLogLevels;
  return {
    [L.COMPLETED]: statusSymbol('succeeded'),
    [L.COMPLETED_WITH_FAILED_SUBTASKS]: statusSymbol('succeeded'),
    [L.FAILED]: statusSymbol('failed'),
    [L.FAILED_WITH_FAILED_SUBTASKS]: statusSymbol('failed'),
    [L.SKIPPED_WITH_COLLAPSE]: statusSymbol('skipped'),
    [L.SKIPPED_WITHOUT_COLLAPSE]: statusSymbol('skipped'),
    [L.ROLLED_BACK]: statusSymbol('cancelled'),
    [L.WAITING]: statusSymbol('not run'),
    [L.RETRY]: SYMBOLS.warning,
  };
}

/** listr2's icon colours, taken from our palette so NO_COLOR holds for the icons too. */
function listrColors(colors: Palette): ListrDefaultRendererOptions['color'] {
  const L = ListrDefaultRendererLogLevels;
  const map: Record<ListrDefaultRendererLogLevels, (s: string) => string> = {
    [L.SKIPPED_WITH_COLLAPSE]: colors.yellow,
    [L.SKIPPED_WITHOUT_COLLAPSE]: colors.yellow,
    [L.OUTPUT]: colors.dim,
    [L.OUTPUT_WITH_BOTTOMBAR]: colors.dim,
    [L.PENDING]: colors.yellow,
    [L.COMPLETED]: colors.green,
    [L.COMPLETED_WITH_FAILED_SUBTASKS]: colors.green,
    [L.COMPLETED_WITH_FAILED_SISTER_TASKS]: colors.red,
    [L.RETRY]: colors.yellow,
    [L.ROLLING_BACK]: colors.red,
    [L.ROLLED_BACK]: colors.yellow,
    [L.FAILED]: colors.red,
    [L.FAILED_WITH_FAILED_SUBTASKS]: colors.red,
    [L.WAITING]: colors.dim,
    [L.PAUSED]: colors.yellow,
  };
  const out: ListrDefaultRendererOptions['color'] = {};
  for (const [level, paint] of Object.entries(map)) {
    (out as Record<string, (s?: string) => string>)[level] = (s?: string) => paint(s ?? '');
  }
  return out;
}

