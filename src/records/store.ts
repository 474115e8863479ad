import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ZERO_USAGE, type Usage } from '../engine/events.js';
import { writeFileAtomic, writeFileAtomicAsync, writeJsonAtomic, type WriteResult } from './atomic.js';
import { describeFsError } from './fs-error.js';
import { LogWriter } from './logs.js';
import { logFile, runDir, runJson, stageFile, stagesDir } from './paths.js';
import { RECORD_VERSION, type RunMeta, type RunRecord, type StageFile, type StageRecord } from './types.js';

/** run.json is rewritten at most once per interval while stages change (at once after a quiet spell). */
const RUN_JSON_INTERVAL_MS = 200;

/**
 * The write side of one run's record: each stage's state in its own small file, and run.json
 * derived from them. Writes are atomic and each file's writes stay in order. A stage's file is
 * written at once (it is small, and what its dependants wait for); run.json, which grows with
 * the pipeline, is written off the event loop's thread, and `close()` waits for it. A failed
 * write is kept as `error` (the first one) for the engine to act on.
 */
export class RunStore {
  private readonly stages = new Map<string, StageFile>();
  private timer: NodeJS.Timeout | undefined;
  private firstError: string | undefined;
  private rank = new Map<string, number>();
  private lastFlush = 0;
  /** The last pending write of each file, so that writes of one file land in order. */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly deferred = new Map<string, NodeJS.Timeout>();

  private constructor(
    readonly dir: string,
    private meta: RunMeta,
  ) {}

  /** Creates (or, for a resumed run, reuses) the run directory and writes run.json. */
  static open(workspace: string, meta: RunMeta, existing: readonly StageFile[] = []): { ok: true; store: RunStore } | { ok: false; error: string } {
    const dir = runDir(workspace, meta.id);
    try {
      mkdirSync(stagesDir(dir), { recursive: true });
    } catch (err) {
      return { ok: false, error: `cannot create the run record: ${describeFsError(err, stagesDir(dir))}` };
    }
    const store = new RunStore(dir, meta);
    for (const s of existing) store.stages.set(key(s.path, s.iteration), s);
    // The first write is synchronous, so an unwritable record refuses the run before any stage starts.
    const written = writeJsonAtomic(runJson(dir), store.record());
    if (!written.ok) return { ok: false, error: `cannot write the run record: ${written.error}` };
    store.lastFlush = Date.now();
    return { ok: true, store };
  }

  get id(): string {
    return this.meta.id;
  }

  /** The first write that failed, if any: the run must not pretend it was recorded. */
  get error(): string | undefined {
    return this.firstError;
  }

  stage(path: string, iteration?: number): StageFile | undefined {
    return this.stages.get(key(path, iteration));
  }

  /**
   * Forgets the recorded iterations of a loop's body (and of loops nested in it), files
   * included: a loop that runs again starts from its first iteration.
   */
  dropIterations(loopPath: string): void {
    for (const [k, file] of this.stages) {
      if (file.iteration === undefined || !file.path.startsWith(`${loopPath}.`)) continue;
      this.stages.delete(k);
      const target = stageFile(this.dir, file.path, file.iteration);
      const pending = this.deferred.get(target);
      if (pending) clearTimeout(pending);
      this.deferred.delete(target);
      const previous = this.writes.get(target) ?? Promise.resolve();
      const next: Promise<void> = previous.then(async () => {
        for (const f of [target, logFile(this.dir, file.path, 'stdout', file.iteration), logFile(this.dir, file.path, 'stderr', file.iteration)]) {
          await rm(f, { force: true }).catch(() => undefined);
        }
        if (this.writes.get(target) === next) this.writes.delete(target);
      });
      this.writes.set(target, next);
    }
    this.schedule();
  }

  /**
   * Writes one stage's file and schedules run.json. With `deferMs`, the write happens only if no
   * other state of the stage comes first (a stage that ends quickly is written once, at its end).
   */
  putStage(file: StageFile, options: { deferMs?: number } = {}): void {
    const target = stageFile(this.dir, file.path, file.iteration);
    const waiting = this.deferred.get(target);
    if (waiting) {
      clearTimeout(waiting);
      this.deferred.delete(target);
    }
    if (options.deferMs) {
      const timer = setTimeout(() => {
        this.deferred.delete(target);
        this.putStage(file);
      }, options.deferMs);
      timer.unref();
      this.deferred.set(target, timer);
      return;
    }
    this.stages.set(key(file.path, file.iteration), file);
    const text = `${JSON.stringify(file, null, 2)}\n`;
    // A stage's file is small, and the stages that need it wait until it has landed. Written
    // here it costs a few syscalls on this thread; through the thread pool it cost four round
    // trips on the critical path of every stage (bench/dag: 1.80× the floor with async writes,
    // 1.50× with these, on tmpfs). A write still pending for the same file goes first.
    if (this.writes.has(target)) this.enqueue(target, text);
    else this.note(writeFileAtomic(target, text));
    this.schedule();
  }

  /** Resolves once the stage's file, as last put, is on disk (or failed to be: see `error`). */
  async written(path: string, iteration?: number): Promise<void> {
    await this.writes.get(stageFile(this.dir, path, iteration));
  }

  /** Shows run.json's stages in this order (the pipeline's); stages it does not name follow. */
  order(paths: readonly string[]): void {
    this.rank = new Map(paths.map((p, i) => [p, i]));
  }

  setMeta(patch: Partial<RunMeta>): void {
    this.meta = { ...this.meta, ...patch };
  }

  log(path: string, stream: 'stdout' | 'stderr', iteration?: number): LogWriter {
    return new LogWriter(logFile(this.dir, path, stream, iteration));
  }

  logPath(path: string, stream: 'stdout' | 'stderr', iteration?: number): string {
    return logFile(this.dir, path, stream, iteration);
  }

  /** Writes run.json now (asynchronously). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlush = Date.now();
    this.enqueue(runJson(this.dir), `${JSON.stringify(this.record(), null, 2)}\n`);
  }

  /** Drops deferred writes, writes run.json, and resolves once every write has landed. */
  async close(): Promise<WriteResult> {
    for (const timer of this.deferred.values()) clearTimeout(timer);
    this.deferred.clear();
    this.flush();
    while (this.writes.size > 0) await Promise.all([...this.writes.values()]);
    return this.firstError === undefined ? { ok: true } : { ok: false, error: this.firstError };
  }

  private enqueue(file: string, text: string): void {
    const previous = this.writes.get(file) ?? Promise.resolve();
    const next: Promise<void> = previous.then(async () => {
      this.note(await writeFileAtomicAsync(file, text));
      if (this.writes.get(file) === next) this.writes.delete(file);
    });
    this.writes.set(file, next);
  }

  record(): RunRecord {
    const last = this.rank.size;
    const sorted = [...this.stages.values()].sort((a, b) => (this.rank.get(a.path) ?? last) - (this.rank.get(b.path) ?? last));
    return deriveRunRecord(this.meta, sorted);
  }

  /** Writes run.json now when it has not been written for a while, else once the interval is over. */
  private schedule(): void {
    if (this.timer) return;
    const wait = this.lastFlush + RUN_JSON_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  private note(result: WriteResult): WriteResult {
    if (!result.ok) this.firstError ??= result.error;
    return result;
  }
}

/** run.json from the run's own fields and its stages' files (also used to merge records). */
export function deriveRunRecord(meta: RunMeta, stages: Iterable<StageFile>): RunRecord {
  const out: Record<string, StageRecord> = {};
  const usage: Usage = { ...ZERO_USAGE };
  let cost = 0;
  const iterated: StageFile[] = [];
  for (const s of stages) {
    if (s.iteration !== undefined) {
      iterated.push(s);
      continue;
    }
    out[s.path] = toStageRecord(s);
    // A loop's usage already holds its body's, over every iteration.
    addUsage(usage, s.usage);
    cost += s.cost_usd;
  }
  if (iterated.length > 0) {
    for (const [path, entry] of Object.entries(out)) {
      if (entry.status !== undefined && hasBody(path, iterated)) attachIterations(path, entry, iterated);
    }
  }
  return { version: RECORD_VERSION, ...meta, usage, cost_usd: round(cost), stages: out };
}

/** Body stages are one segment below their loop: `build.generate` under `build`. */
function isChildOf(path: string, parent: string): boolean {
  return path.startsWith(`${parent}.`) && !path.slice(parent.length + 1).includes('.');
}

function hasBody(path: string, files: readonly StageFile[]): boolean {
  return files.some((f) => isChildOf(f.path, path));
}

/**
 * A loop's entry gets `iterations: [{iteration, stages}]` from its body's stage files; a loop
 * nested in the body gets its own the same way (its last outer iteration's, as files are named
 * by one iteration number).
 */
function attachIterations(path: string, entry: StageRecord, files: readonly StageFile[]): void {
  const byIteration = new Map<number, Record<string, StageRecord>>();
  // In the order they started (stages that never started last), as the iteration ran.
  const body = files.filter((f) => isChildOf(f.path, path)).sort((a, b) => (a.started_at ?? '~').localeCompare(b.started_at ?? '~') || a.path.localeCompare(b.path));
  for (const f of body) {
    const it = f.iteration!;
    let stagesOf = byIteration.get(it);
    if (!stagesOf) byIteration.set(it, (stagesOf = {}));
    const rec = toStageRecord(f);
    if (f.kind === 'loop' && hasBody(f.path, files)) attachIterations(f.path, rec, files);
    stagesOf[f.path] = rec;
  }
  entry.iterations = [...byIteration.entries()].sort((a, b) => a[0] - b[0]).map(([iteration, stagesOf]) => ({ iteration, stages: stagesOf }));
}

function key(path: string, iteration: number | undefined): string {
  return iteration === undefined ? path : `${path}@${iteration}`;
}

export function toStageRecord(s: StageFile): StageRecord {
  return {
    status: s.status,
    reason: s.reason,
    message: s.message,
    started_at: s.started_at,
    ended_at: s.ended_at,
    attempts: s.attempts,
    cached: s.cached,
    outputs: s.outputs,
    usage: s.usage,
    cost_usd: s.cost_usd,
    fingerprint: s.fingerprint,
  };
}

function addUsage(into: Usage, u: Usage): void {
  into.input_tokens += u.input_tokens;
  into.output_tokens += u.output_tokens;
  into.cache_creation_input_tokens += u.cache_creation_input_tokens;
  into.cache_read_input_tokens += u.cache_read_input_tokens;
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

