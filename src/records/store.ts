import { mkdirSync, rmSync } from 'node:fs';
import { writeJsonAtomic, type WriteResult } from './atomic.js';
import { RunFold } from './fold.js';
import { describeFsError } from '../base/fs-error.js';
import type { WrittenEvent, JournalEvent } from './journal-events.js';
import { JournalWriter } from './journal.js';
import { LogWriter } from './logs.js';
import { logFile, runDir, runJson, stagesDir } from './paths.js';
import { chainOf, within, type Iteration } from './iteration.js';
import type { StageFields } from '../config/generated/run.js';
import { RECORD_VERSION, type RunMeta, type RunRecord, type StageFile, type StageRecord } from './types.js';
import { addUsage } from '../base/usage.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';

/**
 * The write side of one run's record (docs/cache-and-watch.md): this apply's journal, appended a line per
 * event, and the record folded from it in memory, from which run.json is derived once, when the
 * apply ends. A status change costs one write to an open file, never a new file. A failed write
 * is kept as `error` (the first one) for the engine to act on.
 */
export class RunStore {
  private firstError: string | undefined;
  private rank: readonly string[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private meta: RunMeta,
    private readonly journal: JournalWriter,
    private readonly fold: RunFold,
  ) {}

  /**
   * Creates (or, for a resumed run, reuses) the run directory and opens this apply's journal
   * `journal/<writer>.ndjson`, seeded with the stages the run already has (`existing`).
   */
  static open(workspace: string, meta: RunMeta, existing: readonly StageFile[] = [], writer = defaultWriter()): { ok: true; store: RunStore } | { ok: false; error: string } {
    const dir = runDir(workspace, meta.id);
    try {
      // Logs, prompts and transcripts go beside the journal, each only when it has something to hold.
      mkdirSync(stagesDir(dir), { recursive: true });
    } catch (err) {
      return { ok: false, error: `cannot create the run record: ${describeFsError(err, stagesDir(dir))}` };
    }
    const opened = JournalWriter.open(dir, writer);
    if (!opened.ok) return { ok: false, error: `cannot write the run record: ${opened.error}` };
    const store = new RunStore(dir, meta, opened.journal, new RunFold(existing));
    // The first line is written at once, so an unwritable record refuses the run before any stage starts.
    store.append({ type: 'run_opened', time: new Date().toISOString(), run: meta.id, name: meta.name, started_at: meta.started_at, writer });
    if (store.error) {
      opened.journal.close();
      return { ok: false, error: `cannot write the run record: ${store.error}` };
    }
    return { ok: true, store };
  }

  get id(): string {
    return this.meta.id;
  }

  /** The journal this apply writes. */
  get journalFile(): string {
    return this.journal.file;
  }

  /** The first write that failed, if any: the run must not pretend it was recorded. */
  get error(): string | undefined {
    return this.firstError;
  }

  /** Appends an event to the journal (and folds it into the record). After `close()` nothing is written. */
  append(event: WrittenEvent): void {
    if (this.closed) return;
    this.journal.append(event);
    if (this.journal.error) this.firstError ??= this.journal.error;
    this.fold.apply(event as JournalEvent);
  }

  /** Spending journaled by earlier applies of this run (a resume, or jobs on other machines): part of the run's totals. */
  carrySpend(events: Iterable<JournalEvent>): void {
    for (const e of events) this.fold.spend.add(e);
  }

  stage(path: string, iteration?: Iteration): StageFile | undefined {
    return this.fold.stage(path, iteration);
  }

  /**
   * Forgets the recorded iterations of a loop's body (and of loops nested in it), logs included:
   * a loop that runs again starts from its first iteration. A loop inside a loop forgets only
   * those inside its own `iteration`: the other outer iterations' stay.
   */
  dropIterations(loopPath: string, iteration?: Iteration): void {
    const old = this.fold.iterationsOf(loopPath, iteration);
    if (old.length === 0) return;
    this.append({ type: 'iterations_dropped', time: new Date().toISOString(), run: this.meta.id, stage: loopPath, ...(iteration === undefined ? {} : { iteration }) });
    for (const f of old) {
      for (const stream of ['stdout', 'stderr'] as const) rmSync(logFile(this.dir, f.path, stream, f.iteration), { force: true });
    }
  }

  /** Resolves once the stage's end is recorded: at once, as journal lines are written synchronously. */
  async written(_path: string, _iteration?: Iteration): Promise<void> {}

  /** Shows run.json's stages in this order (the pipeline's); stages it does not name follow. */
  order(paths: readonly string[]): void {
    this.rank = paths;
  }

  setMeta(patch: Partial<RunMeta>): void {
    this.meta = { ...this.meta, ...patch };
  }

  log(path: string, stream: 'stdout' | 'stderr', iteration?: Iteration): LogWriter {
    return new LogWriter(logFile(this.dir, path, stream, iteration));
  }

  logPath(path: string, stream: 'stdout' | 'stderr', iteration?: Iteration): string {
    return logFile(this.dir, path, stream, iteration);
  }

  /**
   * The apply ends: its status goes to the journal, and run.json, derived from the record, is
   * written atomically. The journal stays open for the last events (`run_finished`) until `close()`.
   */
  finish(): WriteResult {
    if (this.meta.status !== 'running') {
      this.append({ type: 'run_ended', time: new Date().toISOString(), run: this.meta.id, status: this.meta.status, exit_code: this.meta.exit_code, ended_at: this.meta.ended_at ?? new Date().toISOString() });
    }
    const written = writeJsonAtomic(runJson(this.dir), this.record());
    if (!written.ok) this.firstError ??= written.error;
    return this.firstError === undefined ? { ok: true } : { ok: false, error: this.firstError };
  }

  close(): void {
    this.closed = true;
    this.journal.close();
  }

  record(): RunRecord {
    return deriveRunRecord(this.meta, this.fold.stages(this.rank), this.fold.spend.total());
  }
}

let applies = 0;

/**
 * A name for this apply's journal that no other apply of the run shares, here or on another
 * machine: the time, the process and a count (watch mode applies many times in one process).
 */
export function defaultWriter(now: Date = new Date()): string {
  return `apply-${now.toISOString().replace(/[-:]/g, '')}-${process.pid}-${++applies}`;
}

/**
 * run.json from the run's own fields and its stages' files (also used to merge records). The
 * run's usage and cost are what its journals say its calls spent, when they say it — calls of
 * stages killed mid-way included — else the sum of its stages.
 */
export function deriveRunRecord(meta: RunMeta, stages: Iterable<StageFile>, spent?: { usage: Usage; cost_usd: number }): RunRecord {
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
      if (hasBody(path, iterated)) attachIterations(path, entry, iterated, []);
    }
  }
  if (spent) return { version: RECORD_VERSION, ...meta, usage: { ...spent.usage }, cost_usd: round(spent.cost_usd), stages: out };
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
 * nested in the body gets its own the same way, in each outer iteration those it ran there (its
 * files carry the chain of iterations, `outer` the enclosing loops' part of it). A nested body's
 * file of an earlier record carries the innermost iteration only: it counts in every outer one.
 */
function attachIterations(path: string, entry: StageRecord, files: readonly StageFile[], outer: readonly number[]): void {
  const byIteration = new Map<number, Record<string, StageRecord>>();
  // In the order they started (stages that never started last), as the iteration ran.
  const body = files.filter((f) => isChildOf(f.path, path)).sort((a, b) => (a.started_at ?? '~').localeCompare(b.started_at ?? '~') || a.path.localeCompare(b.path));
  for (const f of body) {
    const it = ownIteration(f.iteration!, outer);
    if (it === undefined) continue;
    let stagesOf = byIteration.get(it);
    if (!stagesOf) byIteration.set(it, (stagesOf = {}));
    const rec = toStageRecord(f);
    if (f.kind === 'loop' && hasBody(f.path, files)) attachIterations(f.path, rec, files, [...outer, it]);
    stagesOf[f.path] = rec;
  }
  entry.iterations = [...byIteration.entries()].sort((a, b) => a[0] - b[0]).map(([iteration, stagesOf]) => ({ iteration, stages: stagesOf }));
}

/** The iteration of a body file in its own loop when it lies inside the enclosing loops' `outer` iterations. */
function ownIteration(iteration: Iteration, outer: readonly number[]): number | undefined {
  if (typeof iteration === 'number') return iteration;
  const chain = chainOf(iteration);
  return chain.length === outer.length + 1 && within(chain, [...outer]) ? chain.at(-1) : undefined;
}

/** A stage's record fields, without what a stage file or a loop's entry adds. */
export function toStageRecord(s: StageFields): StageRecord {
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


function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

