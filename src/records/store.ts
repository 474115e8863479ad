import { mkdirSync } from 'node:fs';
import { ZERO_USAGE, type RunStatus, type Usage } from '../engine/events.js';
import { writeJsonAtomic, type WriteResult } from './atomic.js';
import { describeFsError } from './fs-error.js';
import { LogWriter } from './logs.js';
import { logFile, runDir, runJson, stageFile, stagesDir } from './paths.js';
import { RECORD_VERSION, type RunMeta, type RunRecord, type StageFile, type StageRecord } from './types.js';

/** run.json is rewritten at most this often while stages change; stage files are written at once. */
const RUN_JSON_INTERVAL_MS = 200;

/**
 * The write side of one run's record: each stage's state in its own small file, and run.json
 * derived from them. A failed write is kept as `error` (the first one) for the engine to act on.
 */
export class RunStore {
  private readonly stages = new Map<string, StageFile>();
  private timer: NodeJS.Timeout | undefined;
  private firstError: string | undefined;

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
    for (const s of existing) store.stages.set(s.path, s);
    const written = store.flush();
    if (!written.ok) return { ok: false, error: `cannot write the run record: ${written.error}` };
    return { ok: true, store };
  }

  get id(): string {
    return this.meta.id;
  }

  /** The first write that failed, if any: the run must not pretend it was recorded. */
  get error(): string | undefined {
    return this.firstError;
  }

  stage(path: string): StageFile | undefined {
    return this.stages.get(path);
  }

  /** Writes one stage's file now and schedules run.json. */
  putStage(file: StageFile): WriteResult {
    this.stages.set(file.path, file);
    const result = this.note(writeJsonAtomic(stageFile(this.dir, file.path, file.iteration), file));
    this.schedule();
    return result;
  }

  /** Drops a stage from run.json's derivation order and re-adds it last (keeps pipeline order on resume). */
  order(paths: readonly string[]): void {
    const sorted = new Map<string, StageFile>();
    for (const p of paths) {
      const s = this.stages.get(p);
      if (s) sorted.set(p, s);
    }
    for (const [p, s] of this.stages) if (!sorted.has(p)) sorted.set(p, s);
    this.stages.clear();
    for (const [p, s] of sorted) this.stages.set(p, s);
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

  /** Writes run.json now. */
  flush(): WriteResult {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.note(writeJsonAtomic(runJson(this.dir), this.record()));
  }

  record(): RunRecord {
    return deriveRunRecord(this.meta, this.stages.values());
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, RUN_JSON_INTERVAL_MS);
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
  for (const s of stages) {
    if (s.iteration !== undefined) continue;
    out[s.path] = toStageRecord(s);
    addUsage(usage, s.usage);
    cost += s.cost_usd;
  }
  return { version: RECORD_VERSION, ...meta, usage, cost_usd: round(cost), stages: out };
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

export type { RunStatus };
