import type { JsonValue, StageKind } from '../config/pipeline.js';
import type { RunStatus } from './events.js';
import type { ReasonName } from './reasons.js';
import type { JournalEvent } from './journal-events.js';
import { normalizeUsage } from './merge.js';
import { SpendTally } from './spend.js';
import { RECORD_VERSION, type RunMeta, type StageFile } from './types.js';
import { ZERO_USAGE } from '../base/usage.js';
import { isIteration, iterationKey, within, type Iteration } from './iteration.js';

interface Entry {
  file: StageFile;
  /** The time of the event that set it; '' for a stage taken from an earlier record. */
  t: string;
}

interface Outputs {
  kind: StageKind;
  outputs: Record<string, JsonValue>;
  fingerprint: string | null;
  started_at: string | null;
  ended_at: string | null;
  attempts: number;
}

/**
 * Journal events folded into the record (docs/cache-and-watch.md and docs/running.md): for each stage, the latest
 * event by time wins. Each stage remembers when it was set, so events can come in any order —
 * several journals read in turn, or tailed as they grow — and fold to the same record.
 * Events the fold does not know (`stage_output`, `model_call`, `model_answer`…) are ignored.
 */
export class RunFold {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, { t: string; out: Outputs }>();
  /** Loops that restarted, by path and (for a nested loop) its own iteration: when, and where. */
  private readonly dropped = new Map<string, { loop: string; iteration: Iteration | undefined; t: string }>();
  private announced: string[] = [];
  private name: { value: string; t: string } | undefined;
  private startedAt: string | undefined;
  private ending: { status: RunStatus; exit_code: number | null; ended_at: string | null; t: string } | undefined;

  /** `base`: the stages of an earlier record (stage files of the earlier layout, or a run's own previous state). */
  constructor(base: Iterable<StageFile> = []) {
    for (const file of base) this.entries.set(key(file.path, file.iteration), { file, t: '' });
  }

  /** Everything the run's model calls spent, whatever their stages' statuses (docs/models-and-budgets.md). */
  readonly spend = new SpendTally();

  apply(e: JournalEvent): void {
    this.spend.add(e);
    switch (e.type) {
      case 'stage_started':
        return this.started(e);
      case 'stage_outputs':
        this.pending.set(key(e.stage as string, iterationOf(e)), { t: e.time, out: outputsOf(e) });
        return;
      case 'stage_finished':
        if (e.kept !== true) this.finished(e);
        return;
      case 'iterations_dropped':
        return this.drop(e.stage as string, iterationOf(e), e.time);
      case 'run_started':
        if (Array.isArray(e.stages)) this.announced = e.stages.map((s) => (s as { path?: unknown }).path).filter((p): p is string => typeof p === 'string');
        this.setName(e);
        return;
      case 'run_opened':
        this.setName(e);
        if (this.startedAt === undefined || (e.started_at as string) < this.startedAt) this.startedAt = e.started_at as string;
        if (!this.ending || e.time >= this.ending.t) this.ending = { status: 'running', exit_code: null, ended_at: null, t: e.time };
        return;
      case 'run_ended':
        if (!this.ending || e.time >= this.ending.t) {
          this.ending = {
            status: e.status as RunStatus,
            exit_code: typeof e.exit_code === 'number' ? e.exit_code : null,
            ended_at: typeof e.ended_at === 'string' ? e.ended_at : e.time,
            t: e.time,
          };
        }
        return;
      default:
        return;
    }
  }

  stage(path: string, iteration?: Iteration): StageFile | undefined {
    return this.entries.get(key(path, iteration))?.file;
  }

  /** The recorded iterations of a loop's body (loops nested in it included); of a nested loop, those inside its own `iteration`. */
  iterationsOf(loopPath: string, iteration?: Iteration): StageFile[] {
    return [...this.entries.values()].map((e) => e.file).filter((f) => inBody(f, loopPath, iteration));
  }

  /**
   * Every stage: the top-level ones in the given order (else the order the run announced;
   * stages it did not name follow), then the iterations of loop bodies.
   */
  stages(order: readonly string[] = this.announced): StageFile[] {
    const rank = new Map(order.map((p, i) => [p, i]));
    const last = rank.size;
    const files = [...this.entries.values()].map((e) => e.file);
    const top = files.filter((f) => f.iteration === undefined).sort((a, b) => (rank.get(a.path) ?? last) - (rank.get(b.path) ?? last));
    return [...top, ...files.filter((f) => f.iteration !== undefined)];
  }

  /** The run's own fields, when a journal opened the run (else undefined: an earlier layout). */
  meta(id: string): RunMeta | undefined {
    if (this.startedAt === undefined) return undefined;
    const ending = this.ending ?? { status: 'running' as const, exit_code: null, ended_at: null };
    return { id, name: this.name?.value ?? '', status: ending.status, exit_code: ending.exit_code, started_at: this.startedAt, ended_at: ending.ended_at };
  }

  private setName(e: JournalEvent): void {
    if (typeof e.name === 'string' && (!this.name || e.time >= this.name.t)) this.name = { value: e.name, t: e.time };
  }

  /** Whether an event at `t` for this stage comes too late to count: a later one set it, or its loop restarted since. */
  private stale(k: string, path: string, iteration: Iteration | undefined, t: string): boolean {
    const current = this.entries.get(k);
    if (current && current.t > t) return true;
    if (iteration === undefined) return false;
    for (const d of this.dropped.values()) if (d.t > t && inBody({ path, iteration }, d.loop, d.iteration)) return true;
    return false;
  }

  private started(e: JournalEvent): void {
    const path = e.stage as string;
    const iteration = iterationOf(e);
    const k = key(path, iteration);
    if (this.stale(k, path, iteration, e.time)) return;
    const attempt = e.attempt as number;
    const previous = this.entries.get(k)?.file;
    // A retry keeps the start of the first attempt.
    const startedAt = attempt > 1 && previous?.status === 'running' && previous.started_at ? previous.started_at : e.time;
    const file = stageFile(path, iteration, {
      kind: e.kind as StageKind,
      status: 'running',
      reason: null,
      message: null,
      started_at: startedAt,
      ended_at: null,
      attempts: attempt,
      cached: false,
      outputs: {},
      fingerprint: null,
    });
    this.entries.set(k, { file, t: e.time });
    this.pending.delete(k);
  }

  private finished(e: JournalEvent): void {
    const path = e.stage as string;
    const iteration = iterationOf(e);
    const k = key(path, iteration);
    if (this.stale(k, path, iteration, e.time)) return;
    const previous = this.entries.get(k)?.file;
    const out = this.pending.get(k)?.out;
    this.pending.delete(k);
    const file = stageFile(path, iteration, {
      kind: out?.kind ?? previous?.kind ?? 'command',
      status: e.status as StageFile['status'],
      reason: typeof e.reason === 'string' ? (e.reason as ReasonName) : null,
      message: typeof e.message === 'string' ? e.message : null,
      started_at: out ? out.started_at : (previous?.started_at ?? null),
      ended_at: out?.ended_at ?? e.time,
      attempts: out?.attempts ?? previous?.attempts ?? 0,
      cached: e.cached === true,
      outputs: out?.outputs ?? {},
      fingerprint: out?.fingerprint ?? null,
    });
    file.usage = normalizeUsage(e.usage);
    file.cost_usd = typeof e.cost_usd === 'number' && Number.isFinite(e.cost_usd) && e.cost_usd >= 0 ? e.cost_usd : 0;
    this.entries.set(k, { file, t: e.time });
  }

  private drop(loopPath: string, iteration: Iteration | undefined, t: string): void {
    const k = key(loopPath, iteration);
    const at = this.dropped.get(k);
    if (at === undefined || t > at.t) this.dropped.set(k, { loop: loopPath, iteration, t });
    for (const [k, entry] of this.entries) {
      if (inBody(entry.file, loopPath, iteration) && entry.t <= t) this.entries.delete(k);
    }
  }
}

function outputsOf(e: JournalEvent): Outputs {
  return {
    kind: e.kind as StageKind,
    outputs: e.outputs as Record<string, JsonValue>,
    fingerprint: typeof e.fingerprint === 'string' ? e.fingerprint : null,
    started_at: typeof e.started_at === 'string' ? e.started_at : null,
    ended_at: typeof e.ended_at === 'string' ? e.ended_at : null,
    attempts: typeof e.attempts === 'number' && Number.isFinite(e.attempts) ? e.attempts : 0,
  };
}

/**
 * Whether a stage file is one of a loop's body's iterations (loops nested in it included); for a
 * loop in a loop, one inside the loop's own iteration. A nested body's file of an earlier record
 * carries the innermost iteration only: it counts as inside any.
 */
function inBody(f: Pick<StageFile, 'path' | 'iteration'>, loopPath: string, iteration: Iteration | undefined): boolean {
  if (f.iteration === undefined || !f.path.startsWith(`${loopPath}.`)) return false;
  return typeof f.iteration === 'number' || within(f.iteration, iteration);
}

/** The event's iteration, when it carries a valid one. */
function iterationOf(e: JournalEvent): Iteration | undefined {
  return isIteration(e.iteration) ? e.iteration : undefined;
}

function stageFile(path: string, iteration: Iteration | undefined, fields: Omit<StageFile, 'version' | 'path' | 'iteration' | 'usage' | 'cost_usd'>): StageFile {
  const file: StageFile = { version: RECORD_VERSION, path, ...fields, usage: { ...ZERO_USAGE }, cost_usd: 0 };
  if (iteration !== undefined) file.iteration = iteration;
  return file;
}

export function key(path: string, iteration: Iteration | undefined): string {
  return iteration === undefined ? path : `${path}@${iterationKey(iteration)}`;
}
