import path from 'node:path';
import picomatch from 'picomatch';
import type { PipelineResult } from '../config/index.js';
import type { Pipeline } from '../config/pipeline.js';
import type { EventSink } from '../records/events.js';
import { predictPipeline } from '../engine/cache/predict.js';
import type { RunResult } from '../engine/run.js';
import type { WorkspaceHooks, WrittenFile } from '../workspace/tracker.js';
import { watchingLines } from './describe.js';
import { fallbackTargets, sameTargets, watchTargets } from './targets.js';
import { ChangeWatcher, contentHash, type WatchSpec } from './watcher.js';

/**
 * `apply --watch` (docs/cache-and-watch.md): run, watch what the pipeline reads, and on a change (a
 * burst coalesced by `watch.debounce`) cancel what is running, re-validate, and apply again
 * with the cache. The run's own writes never trigger a rerun: each stage that may write
 * reports what it changed (the engine's snapshots) and the watcher suppresses exactly that
 * content. A change seen while such a stage runs is judged when it ends — until then it cannot
 * be told from the stage's own write. An invalid edit is reported and watching goes on;
 * Ctrl-C ends the session (130) once the run in progress is recorded.
 *
 * This module decides nothing about text: the CLI passes `report` to print.
 */
export interface WatchSessionOptions {
  sink: EventSink;
  /** Ctrl-C / SIGTERM: ends the session. */
  signal: AbortSignal;
  cwd: string;
  /** The first load (done by the CLI), and how to load again after a change. */
  initial: PipelineResult;
  load(): PipelineResult;
  /** One apply of the pipeline with these hooks, interrupted by `signal`. */
  run(pipeline: Pipeline, signal: AbortSignal, hooks: WorkspaceHooks): Promise<RunResult>;
  /** Loads, while watching, what a rerun may need that the first run did not (a provider when everything was cached). */
  warm?(): Promise<unknown>;
  report: {
    /** An invalid file: its diagnostics (the CLI prints them with code frames). */
    invalid(result: Extract<PipelineResult, { ok: false }>): void;
    /** Warnings of a valid load. */
    warnings(result: Extract<PipelineResult, { ok: true }>): void;
    /** A line for the person watching (stderr). */
    note(text: string): void;
    /** A run that could not start (lock held, bad option). */
    refused(message: string): void;
  };
}

export const EXIT_INTERRUPTED = 130;

interface Held {
  paths: string[];
  waitFor: Set<string>;
}

export class WatchSession {
  private watcher: ChangeWatcher | undefined;
  private spec: WatchSpec | undefined;
  private file: string;
  private running: { controller: AbortController; done: Promise<void> } | undefined;
  private readonly writers = new Set<string>();
  /** What the run's fingerprints took each input file to hold. */
  private reads = new Map<string, string>();
  private held: Held[] = [];
  /** Changes waiting for the next cycle. */
  private readonly changed = new Set<string>();
  private cycling: Promise<void> = Promise.resolve();
  private scheduled = false;
  private lastRun = '';
  private definitions: (rel: string) => boolean = () => false;
  private stopped = false;
  private resolveStop: (() => void) | undefined;

  constructor(private readonly o: WatchSessionOptions) {
    this.file = o.initial.file ?? '';
  }

  async start(): Promise<number> {
    const stop = new Promise<void>((resolve) => {
      this.resolveStop = resolve;
    });
    const onStop = () => void this.stop();
    this.o.signal.addEventListener('abort', onStop, { once: true });
    try {
      await this.retarget(this.o.initial);
      if (this.o.initial.ok) {
        this.o.report.warnings(this.o.initial);
        this.startRun(this.o.initial.pipeline);
      } else {
        this.o.report.invalid(this.o.initial);
        this.o.report.note(this.waitingText());
      }
      if (this.o.signal.aborted) await this.stop();
      await stop;
    } finally {
      this.o.signal.removeEventListener('abort', onStop);
    }
    return EXIT_INTERRUPTED;
  }

  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running?.controller.abort('interrupted');
    await this.running?.done;
    await this.cycling.catch(() => undefined);
    await this.running?.done;
    await this.watcher?.close();
    this.resolveStop?.();
  }

  /** The hooks the engine reports the run's own writes through. */
  private hooks(): WorkspaceHooks {
    return {
      writerStarted: (key) => {
        this.writers.add(key);
      },
      writerEnded: (key, written) => this.writerEnded(key, written),
      inputRead: (p, hash) => {
        this.reads.set(p, hash);
      },
    };
  }

  private writerEnded(key: string, written: readonly WrittenFile[]): void {
    this.writers.delete(key);
    this.watcher?.suppress(written);
    const ready: string[] = [];
    this.held = this.held.filter((h) => {
      h.waitFor.delete(key);
      if (h.waitFor.size > 0) return true;
      ready.push(...h.paths);
      return false;
    });
    if (ready.length) this.judge(ready);
  }

  /**
   * A debounced batch from the watcher. Files that define the pipeline (factory.yaml, templates,
   * prompt files, scenarios) are never a stage's output: they count at once. Any other file
   * changed while a stage that may write files runs is judged when that stage has reported
   * its writes.
   */
  private onChange(paths: string[]): void {
    if (this.stopped) return;
    const now = paths.filter((p) => this.definesPipeline(p));
    const data = paths.filter((p) => !this.definesPipeline(p));
    if (data.length && this.running && this.writers.size > 0) this.held.push({ paths: data, waitFor: new Set(this.writers) });
    else now.push(...data);
    if (now.length) this.judge(now);
  }

  private definesPipeline(rel: string): boolean {
    return this.definitions(rel);
  }

  /**
   * Paths that are not the run's own writes start a new cycle (cancelling the run in progress) —
   * and so does an input whose content is no longer what a stage of the run took it to be,
   * whoever changed it (an edit made while a stage that may write was running).
   */
  private judge(paths: readonly string[]): void {
    const external = new Set(this.watcher ? this.watcher.external(paths) : paths);
    const real = paths.filter((p) => external.has(p) || this.stale(p));
    if (real.length === 0) return;
    for (const p of real) this.changed.add(p);
    if (this.running) {
      this.running.controller.abort('watch');
      return; // the run's end starts the next cycle
    }
    this.schedule();
  }

  private stale(rel: string): boolean {
    const read = this.reads.get(rel);
    if (read === undefined || !this.spec) return false;
    return read !== contentHash(path.resolve(this.spec.workspace, rel));
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.cycling = this.cycling.then(() => this.cycle()).catch((err: unknown) => this.o.report.note(`factory: watch: ${(err as Error).message}`));
  }

  /** Re-validate and apply again with the cache. */
  private async cycle(): Promise<void> {
    this.scheduled = false;
    if (this.stopped || this.running) return;
    const paths = [...this.changed].sort();
    this.changed.clear();
    const loaded = this.o.load();
    await this.retarget(loaded);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() can run during the await; TypeScript keeps its narrowing from before
    if (this.stopped) return;
    if (!loaded.ok) {
      this.emitChange(paths, undefined);
      this.o.report.invalid(loaded);
      this.o.report.note(this.waitingText(loaded));
      return;
    }
    this.o.report.warnings(loaded);
    const predicted = predictPipeline(loaded.pipeline);
    const rerun = [...predicted.values()].filter((p) => p.status !== 'cached').map((p) => p.path);
    this.emitChange(paths, rerun);
    this.startRun(loaded.pipeline);
  }

  private emitChange(paths: string[], rerun: string[] | undefined): void {
    this.o.sink.emit({ type: 'watch_change', time: new Date().toISOString(), run: this.lastRun, paths, ...(rerun ? { rerun } : {}) });
  }

  private waitingText(loaded?: PipelineResult): string {
    const name = path.relative(this.o.cwd, this.file) || this.file;
    if (loaded && !loaded.ok && loaded.diagnostics.some((d) => d.code === 'file-missing' || (d.code === 'file-unreadable' && d.message.includes('ENOENT')))) {
      return `factory: ${name} is gone; watching for it to come back (Ctrl-C to stop)`;
    }
    return `factory: watching for a fix to ${name} (Ctrl-C to stop)`;
  }

  private startRun(pipeline: Pipeline): void {
    const controller = new AbortController();
    this.reads = new Map();
    const done = this.o
      .run(pipeline, controller.signal, this.hooks())
      .then((result) => {
        if (result.ok) this.lastRun = result.summary.run;
        else this.o.report.refused(result.message);
      })
      .catch((err: unknown) => this.o.report.refused((err as Error).message))
      .finally(() => {
        if (this.running?.controller === controller) this.running = undefined;
        this.writers.clear();
        const rest = this.held.flatMap((h) => h.paths);
        this.held = [];
        if (this.stopped) return;
        if (rest.length) this.judge(rest);
        if (this.changed.size > 0) this.schedule();
        else this.o.report.note('factory: watching for changes (Ctrl-C to stop)');
        this.o.warm?.().catch(() => undefined);
      });
    this.running = { controller, done };
  }

  /** Watches what this load names (on a failed load: what the last good one named, plus the file). */
  private async retarget(loaded: PipelineResult): Promise<void> {
    if (loaded.file) this.file = loaded.file;
    const spec = loaded.ok
      ? watchTargets(loaded.pipeline, { file: loaded.file, templates: loaded.templates, cwd: this.o.cwd })
      : fallbackTargets(this.spec, this.file, loaded.templates, this.spec?.workspace ?? path.dirname(this.file));
    if (sameTargets(this.spec, spec) && this.watcher) return;
    if (loaded.ok) for (const line of watchingLines(spec, loaded.pipeline)) this.o.report.note(line);
    const next = new ChangeWatcher(spec, (paths) => this.onChange(paths), this.watcher?.memory);
    const previous = this.watcher;
    this.watcher = next;
    this.spec = spec;
    const exact = new Set(spec.files.map((f) => path.relative(spec.workspace, f).split(path.sep).join('/')));
    const scenarios = 'scenarios' in spec && Array.isArray(spec.scenarios) && spec.scenarios.length ? picomatch(spec.scenarios as string[], { dot: true }) : () => false;
    this.definitions = (rel) => exact.has(rel) || scenarios(rel);
    await next.start();
    await previous?.close();
  }
}

export function watchSession(options: WatchSessionOptions): Promise<number> {
  return new WatchSession(options).start();
}
