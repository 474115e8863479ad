import { changesBetween, takeSnapshot, type Snapshot, type SnapshotEntry } from './snapshot.js';

/**
 * The engine's snapshots of one run (docs/cache-and-watch.md): the workspace at run start and after the
 * stages that may write files, and what each stage changed (the difference). One mechanism feeds
 * the review's diff, the cache's file changes and, in watch mode, the suppression of the run's
 * own writes.
 *
 * Snapshots are taken when someone needs a difference, not blindly after every stage: at run
 * start when a review or watch mode needs that baseline, before and after every stage whose
 * changes are cached, and — in watch mode (`eager`) — after every stage that may write files.
 * Each snapshot reuses the entries of the previous one whose size and mtime did not change, so
 * it costs a directory walk and a stat per file, never a full rehash. A pipeline of commands
 * without `inputs` (bench/dag) takes none at all.
 */
export interface WrittenFile {
  path: string;
  /** Content hash the run left; null when it deleted the file. */
  hash: string | null;
}

export interface WorkspaceHooks {
  /** A stage that may write files starts (or a cached stage re-applies its files). */
  writerStarted?(key: string): void;
  /** It ended; `written` are the files that differ from the snapshot before (watch mode only). */
  writerEnded?(key: string, written: WrittenFile[]): void;
  /** A stage's fingerprint took this file with this content (watch mode: a later different content is a real change). */
  inputRead?: (path: string, hash: string) => void;
}

/** A file the stage changed: its entry before (undefined: absent) and after (undefined: deleted). */
export interface StageChange {
  path: string;
  before: SnapshotEntry | undefined;
  after: SnapshotEntry | undefined;
  /** Another stage that may write was running when it changed: it may be that stage's. */
  shared?: boolean;
}

/** File times come from a coarse kernel clock: a write is placed in a stage's run with this much slack. */
const CLOCK_SLACK_MS = 15;

interface Active {
  key: string;
  startMs: number;
  /** The stage's path: writes by stages inside it (a loop's body) are its own. */
  path: string;
  beginSeq: number;
  base: Snapshot | undefined;
  writer: boolean;
}

export interface TrackerOptions {
  /** `watch.ignore` globs. */
  ignore?: readonly string[];
  /** Snapshot after every stage that may write files and report it (watch mode). */
  eager?: boolean;
  /** Take the run-start snapshot now (a review with a diff, or watch mode). */
  baseline?: boolean;
  hooks?: WorkspaceHooks;
}

export class WorkspaceTracker {
  #latest: Snapshot | undefined;
  /** True when the latest snapshot may be stale: a writer ran or runs since it was taken. */
  #dirty = true;
  #writers = 0;
  #seq = 0;
  #runStart: Snapshot | undefined;
  readonly #active = new Map<string, Active>();
  /** When stages that may write ran, to tell whose a changed file may be. */
  #intervals: { key: string; path: string; start: number; end: number | undefined; endSeq: number }[] = [];
  /** What cached stages changed, as the workspace was before them (a review's diff shows it). */
  readonly #overlay = new Map<string, SnapshotEntry | null>();
  /**
   * Watch mode: files found changed by any snapshot taken since writers last reported, with the
   * content found last. A snapshot taken for another reason (a stage's base, as it starts) may
   * be the first to see a writer's file; it must still be reported as the run's own write.
   */
  readonly #unreported = new Map<string, string | null>();

  constructor(
    readonly workspace: string,
    private readonly options: TrackerOptions = {},
  ) {
    if (options.baseline || options.eager) this.#runStart = this.fresh();
  }

  get eager(): boolean {
    return this.options.eager === true;
  }

  /** The workspace now (a new snapshot only when a writer ran since the last one). */
  fresh(): Snapshot {
    if (this.#latest && !this.#dirty) return this.#latest;
    const previous = this.#latest;
    this.#latest = takeSnapshot(this.workspace, { ...(this.options.ignore ? { ignore: this.options.ignore } : {}), ...(previous ? { previous } : {}) });
    this.#dirty = this.#writers > 0;
    if (this.eager && previous) for (const p of differing(previous, this.#latest)) this.#unreported.set(p, this.#latest.get(p)?.hash ?? null);
    return this.#latest;
  }

  /**
   * The baseline a review diffs against: the workspace when the run started, with what cached
   * stages re-applied (or found already applied) shown as it was before them — so a rerun whose
   * stages come from the cache reviews the same diff as the run that made them.
   */
  runStart(): Snapshot {
    this.#runStart ??= this.fresh();
    if (this.#overlay.size === 0) return this.#runStart;
    const out = new Map(this.#runStart);
    for (const [p, entry] of this.#overlay) {
      if (entry === null) out.delete(p);
      else out.set(p, entry);
    }
    return out;
  }

  /** A stage starts; `changes` when its changes are wanted (cached stages), `writer` when it may write. */
  begin(key: string, path: string, what: { changes: boolean; writer: boolean }): void {
    const base = what.changes ? this.fresh() : undefined;
    this.#seq++;
    const startMs = Date.now();
    this.#active.set(key, { key, path, startMs, beginSeq: this.#seq, base, writer: what.writer });
    if (what.writer) {
      this.#intervals.push({ key, path, start: startMs, end: undefined, endSeq: Infinity });
      this.#writers++;
      this.#dirty = true;
      this.options.hooks?.writerStarted?.(key);
    }
  }

  /** The stage ended: what it changed (when its changes were wanted). */
  end(key: string): StageChange[] | undefined {
    const active = this.#active.get(key);
    if (!active) return undefined;
    this.#active.delete(key);
    if (active.writer) {
      this.#writers--;
      this.#dirty = true;
    }
    this.#seq++;
    const own = this.#intervals.find((i) => i.key === key && i.end === undefined);
    if (own) {
      own.end = Date.now();
      own.endSeq = this.#seq;
    }
    const want = active.base !== undefined;
    const snapshot = want || (active.writer && this.eager);
    if (!snapshot) return undefined;
    const after = this.fresh();
    let written: WrittenFile[] = [];
    if (active.writer && this.eager) {
      // Everything seen changed since writers last reported, whichever snapshot saw it first.
      written = [...this.#unreported].map(([p, hash]) => ({ path: p, hash }));
      this.#unreported.clear();
    }
    if (active.writer) this.options.hooks?.writerEnded?.(key, written);
    const changes = want ? this.attribute(active, after) : undefined;
    this.prune();
    return changes;
  }

  /**
   * The stage's difference. A file rewritten with the same content (its mtime moved) counts
   * too: it is the stage's output, so a cached result notices when it is deleted or edited
   * later. A file that changed while another stage that may write was running (by its mtime)
   * may be that stage's: it is marked shared.
   */
  private attribute(active: Active, after: Snapshot): StageChange[] {
    const base = active.base!;
    // Writers still running when this stage's base was taken (one that ended before is in the base).
    const overlapping = this.#intervals.filter((i) => i.key !== active.key && !i.path.startsWith(`${active.path}.`) && i.endSeq > active.beginSeq);
    const sharedAt = (t: number | undefined) =>
      overlapping.some((i) => (t === undefined ? true : t >= i.start - CLOCK_SLACK_MS && (i.end === undefined || t <= i.end + CLOCK_SLACK_MS)));
    return differing(base, after)
      .sort()
      .map((p) => {
        const change: StageChange = { path: p, before: base.get(p), after: after.get(p) };
        if (overlapping.length > 0 && sharedAt(change.after?.mtimeMs)) change.shared = true;
        return change;
      });
  }

  /** Intervals that ended before every running stage began can no longer matter. */
  private prune(): void {
    const since = Math.min(...[...this.#active.values()].map((a) => a.startMs), Date.now());
    this.#intervals = this.#intervals.filter((i) => i.end === undefined || i.end + CLOCK_SLACK_MS >= since);
  }

  /** A cached stage's changes, recorded as if it had made them in this run (for the review's baseline). */
  overlay(changes: readonly { path: string; before: SnapshotEntry | null; afterHash: string | null }[]): void {
    const start = this.#runStart;
    for (const c of changes) {
      if (this.#overlay.has(c.path)) continue;
      const atStart = start?.get(c.path)?.hash ?? null;
      // Only when the run started with the file as the cached stage found or left it.
      if (start && atStart !== (c.before?.hash ?? null) && atStart !== c.afterHash) continue;
      this.#overlay.set(c.path, c.before);
    }
  }
}

/** Paths created, deleted or changed between two snapshots — and rewritten with the same content (the mtime moved). */
function differing(before: Snapshot, after: Snapshot): string[] {
  const paths = changesBetween(before, after).map((c) => c.path);
  for (const [p, a] of after) {
    const b = before.get(p);
    if (b && b !== a && b.hash === a.hash && b.mtimeMs !== a.mtimeMs) paths.push(p);
  }
  return paths;
}
