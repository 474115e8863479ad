import { withoutInstances } from '../../config/fanout.js';
import { stageBase } from '../../records/paths.js';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDenied } from '../../workspace/confine.js';
import { expandGlobs } from '../../config/files.js';
import type { JsonValue, Pipeline, StageNode } from '../../config/pipeline.js';
import type { Value } from '../../expr/index.js';
import type { Where } from '../schedule/attempts.js';
import { pendingChanges, StageCache, workspaceFiles, writeLatest, type CacheEntry, type FileChange } from './cache.js';
import { ownChanges } from '../patches/command-writes.js';
import { beforeEntry, writeChanges } from '../patches/patches.js';
import { hashText, type FileHash, type FingerprintParts } from './fingerprint.js';
import { unifiedDiff } from '../../workspace/snapshot.js';
import { cacheableKind, keyedByStage, loopBodyPaths, mayWrite, needToken, stageFingerprint } from './stage-fingerprint.js';
import { recordEnd, type Outcome } from '../stage-record.js';
import { checkRecord, type RunState } from '../state.js';
import { WorkspaceTracker, type StageChange, type WorkspaceHooks } from '../../workspace/tracker.js';
import { ZERO_USAGE } from '../../base/usage.js';

/**
 * The cache as one run uses it (docs/cache-and-watch.md): each stage's fingerprint when it is about to
 * run, recorded in its stage file; a succeeded result reused when the fingerprint matches (its
 * file changes re-applied unless a file was edited since); a succeeded result stored with the
 * files it changed. Entries live in `.factory/cache/stages/` (see cache.ts: atomic, checksummed).
 */
export interface RunCacheOptions {
  /** Look results up; false with `--no-cache` (results are still stored, for the next run). */
  lookup: boolean;
  /** Watch mode: snapshots after every stage that may write, reported here. */
  hooks?: WorkspaceHooks;
  /**
   * Files the run itself writes inside the workspace (the `--record` cassette), absolute: never
   * a stage's change, so never in a review's diff, a cached change or an exported patch.
   */
  ownFiles?: readonly string[];
}

/** A stage about to run, as the cache sees it. */
export interface Prepared {
  key: string;
  fingerprint?: string;
  parts?: FingerprintParts;
  cacheable: boolean;
  writer: boolean;
  /** The entry whose result can be reused, if any. */
  entry?: CacheEntry;
  began?: boolean;
}

/** The files of one cached result, all together, past which a stage is not cached. */
const MAX_CHANGE_BYTES = 32 * 1024 * 1024;

export class RunCache {
  readonly tracker: WorkspaceTracker;
  readonly entries: StageCache;
  readonly #latest = new Map<string, string>();
  /** Content hashes by path, size and mtime, so one run reads an unchanged input once. */
  readonly #hashes = new Map<string, string>();
  /** Stages inside loop bodies: cached with their loop, not one by one. */
  readonly #nested: Set<string>;
  /** The top-level stages: each is one job of a distributed run, with a patch of its own. */
  readonly #topLevel: Set<string>;
  /** Top-level stages whose fingerprint something can use: cacheable ones and those they need, transitively. */
  readonly #fingerprinted: Set<string>;

  constructor(
    readonly pipeline: Pipeline,
    readonly runId: string,
    readonly options: RunCacheOptions,
  ) {
    const own = (options.ownFiles ?? []).map((f) => path.relative(pipeline.dir, f)).filter((rel) => rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel));
    // As globs that match only themselves.
    const literal = (rel: string) => rel.split(path.sep).join('/').replace(/[*?[\]{}()!+@\\]/g, '\\$&');
    const ignore = [...(pipeline.config.watch?.ignore ?? []), ...own.map(literal)];
    this.tracker = new WorkspaceTracker(pipeline.dir, {
      ...(ignore.length > 0 ? { ignore } : {}),
      eager: options.hooks !== undefined,
      baseline: hasReviewDiff(pipeline),
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
    this.entries = new StageCache(pipeline.dir);
    this.#nested = loopBodyPaths(pipeline.root);
    this.#topLevel = new Set(pipeline.root.stages.map((st) => st.path));
    this.#fingerprinted = new Set();
    for (const st of pipeline.root.stages) {
      if (!cacheableKind(st)) continue;
      this.#fingerprinted.add(st.path);
      for (const up of st.upstream) this.#fingerprinted.add(pipeline.root.byId.get(up)?.path ?? up);
    }
  }

  /** Set for a shared `--run-id`: receives what each top-level stage changed, for its patch (patches-run.ts). */
  onTopLevelChanges: ((stage: string, changes: StageChange[]) => void) | undefined;

  /** Whether this stage's changes become a patch: a top-level stage, with a patch writer listening. */
  private patched(node: StageNode, prepared: Prepared): boolean {
    return this.onTopLevelChanges !== undefined && prepared.key === node.path && this.#topLevel.has(node.path);
  }

  /** The fingerprint of a stage about to run (the `stages` context as it sees it), and a result to reuse. */
  prepare(state: RunState, node: StageNode, where: Where, outcomes: ReadonlyMap<string, Outcome>): Prepared {
    const key = stageBase(node.path, where.iteration);
    const writer = mayWrite(node);
    const nested = where.iteration !== undefined || where.loop !== undefined || this.#nested.has(withoutInstances(node.path));
    if (nested || node.kind === 'pipeline' || node.kind === 'approve') return { key, cacheable: false, writer };
    // A stage that is never cached and feeds no cached stage has no use for a fingerprint (a
    // command without inputs: bench/dag's 500 of them), unless watch mode wants the files it read.
    if (!this.#fingerprinted.has(withoutInstances(node.path)) && !this.options.hooks) return { key, cacheable: false, writer };
    const needs = keyedByStage<string>();
    for (const id of node.needs) {
      const o = outcomes.get(id);
      needs[id] = o ? needToken(o) : 'missing';
    }
    const computed = stageFingerprint({
      node,
      owner: state.pipeline,
      workspace: this.pipeline.dir,
      contexts: { ...(state.contexts as unknown as Record<string, Value>), stages: where.stages },
      pipelineEnv: state.pipelineEnv.ok ? state.pipelineEnv.value : undefined,
      needs,
      hashFiles: (globs) => this.hashFiles(globs),
      diff: () => this.diff(state),
    });
    // A definition that cannot be rendered is the stage's own error to report when it runs.
    if (!computed.ok) return { key, cacheable: false, writer };
    const read = this.options.hooks?.inputRead;
    if (read) for (const f of computed.parts.files) if (!/^(prompt_file|output_schema_file):/.test(f.path)) read(f.path, f.hash);
    const prepared: Prepared = { key, fingerprint: computed.fingerprint, parts: computed.parts, cacheable: cacheableKind(node), writer };
    if (prepared.cacheable && this.options.lookup) {
      const entry = this.entries.get(computed.fingerprint);
      if (entry) prepared.entry = entry;
    }
    return prepared;
  }

  /**
   * Reuses the cached result: its file changes re-applied, the stage recorded `succeeded` and
   * `cached`, its outputs restored, nothing spent. Undefined when a file it changed was edited
   * since (the stage runs again rather than overwrite the edit).
   */
  async reuse(state: RunState, node: StageNode, where: Where, prepared: Prepared): Promise<Outcome | undefined> {
    const entry = prepared.entry!;
    // A command's output is what its `writes` declare; its other changes (a shared log) are never restored nor a reason to run again.
    const own = ownChanges(node, entry.changes, prepared.parts);
    const pending = pendingChanges(own, workspaceFiles(this.pipeline.dir));
    if (!pending.ok) return undefined;
    const patched = this.patched(node, prepared);
    if (pending.todo.length > 0 || patched) {
      this.tracker.begin(prepared.key, node.path, { changes: patched, writer: pending.todo.length > 0 });
      // All or nothing, like patches between jobs: a write that fails puts the others back (it reports, never throws).
      const written = pending.todo.length > 0 ? writeChanges(this.pipeline.dir, pending.todo) : { ok: true };
      const changes = this.tracker.end(prepared.key);
      if (!written.ok) return undefined;
      if (patched && changes) this.onTopLevelChanges!(node.path, changes);
    }
    this.tracker.overlay(entry.changes.map((c) => ({ path: c.path, before: beforeEntry(c), afterHash: c.after?.hash ?? null })));
    this.#latest.set(node.path, entry.fingerprint);
    const now = Date.now();
    const outcome = recordEnd(
      state,
      node,
      {
        status: 'succeeded',
        message: `reused the result of run ${entry.run}${pending.todo.length ? `, its changes to ${pending.todo.length} file${pending.todo.length === 1 ? '' : 's'} re-applied` : ''}`,
        outputs: entry.outputs,
        usage: ZERO_USAGE,
        cost_usd: 0,
        fingerprint: entry.fingerprint,
        cached: true,
      },
      { startedAt: new Date(now).toISOString(), started: now },
      0,
      where.iteration,
    );
    await state.store.written(node.path, where.iteration);
    checkRecord(state);
    return outcome;
  }

  /**
   * The stage starts running: its changes are tracked when they will be cached, or become a
   * patch (a top-level stage of a shared `--run-id`), or watch mode wants them.
   */
  begin(node: StageNode, prepared: Prepared): void {
    const changes = (prepared.cacheable && prepared.fingerprint !== undefined) || this.patched(node, prepared);
    if (!changes && !prepared.writer) return;
    this.tracker.begin(prepared.key, node.path, { changes, writer: prepared.writer });
    prepared.began = true;
  }

  /** The stage ended: its changes go to the patch writer, and a succeeded result is stored with them. */
  end(state: RunState, node: StageNode, prepared: Prepared, outcome: Outcome): void {
    const changes = prepared.began ? this.tracker.end(prepared.key) : undefined;
    if (changes && this.patched(node, prepared)) this.onTopLevelChanges!(node.path, changes);
    if (!prepared.cacheable || prepared.fingerprint === undefined || outcome.status !== 'succeeded' || state.signal.aborted) return;
    // Every change is kept, so that a review of a cached run diffs what it did; a command's hit
    // restores and checks only what its `writes` declare (ownChanges, in reuse).
    const files = changes ? fileChanges(this.pipeline.dir, changes) : [];
    if (files === undefined) return;
    // What the stage says it wrote (a generate's files_changed) is its own, whoever else ran meanwhile.
    const declared = declaredWrites(this.pipeline.dir, node, outcome.outputs, prepared.parts);
    for (const f of files) if (f.shared && declared.has(f.path)) delete f.shared;
    const entry: CacheEntry = {
      version: 1,
      fingerprint: prepared.fingerprint,
      stage: node.path,
      kind: node.kind,
      outputs: outcome.outputs,
      usage: outcome.usage ?? ZERO_USAGE,
      cost_usd: outcome.cost_usd ?? 0,
      changes: files,
      run: this.runId,
      created_at: new Date().toISOString(),
    };
    if (prepared.parts) entry.parts = prepared.parts;
    if (this.entries.put(entry).ok) this.#latest.set(node.path, prepared.fingerprint);
  }

  /** Writes the index of last fingerprints (for `plan`'s reasons). */
  close(): void {
    writeLatest(this.pipeline.dir, this.#latest);
  }

  /** Content hashes of the files the globs match, reusing what the snapshot or this run already read. */
  hashFiles(globs: readonly string[]): FileHash[] {
    if (globs.length === 0) return [];
    const workspace = this.pipeline.dir;
    return expandGlobs(globs, workspace).map((rel) => {
      const abs = path.join(workspace, rel);
      let stat;
      try {
        stat = statSync(abs);
      } catch {
        return { path: rel, hash: 'unreadable' };
      }
      const memo = `${rel}\u0000${stat.size}\u0000${stat.mtimeMs}`;
      const known = this.#hashes.get(memo);
      if (known) return { path: rel, hash: known };
      let hash: string;
      try {
        hash = hashText(readFileSync(abs));
      } catch {
        hash = 'unreadable';
      }
      this.#hashes.set(memo, hash);
      return { path: rel, hash };
    });
  }

  /** The diff a review reviews (the holdout left out), as review.ts computes it. */
  private diff(state: RunState): string {
    const holdout = state.models?.holdout;
    return unifiedDiff(this.tracker.runStart(), this.tracker.fresh(), (rel) => (holdout ? isDenied(rel, holdout) : false));
  }
}

/** A generate's `files_changed`, as workspace-relative paths (its `workspace` may be a sub-folder). */
function declaredWrites(workspace: string, node: StageNode, outputs: Record<string, JsonValue>, parts: FingerprintParts | undefined): Set<string> {
  const listed = outputs.files_changed;
  if (node.kind !== 'generate' || !Array.isArray(listed)) return new Set();
  const rendered = (parts?.definition as { rendered?: { workspace?: unknown } } | undefined)?.rendered?.workspace;
  const base = typeof rendered === 'string' ? path.relative(workspace, path.resolve(workspace, rendered)).split(path.sep).join('/') : '';
  return new Set(listed.filter((p): p is string => typeof p === 'string').map((p) => (base ? path.posix.join(base, p) : path.posix.normalize(p))));
}

function hasReviewDiff(pipeline: Pipeline): boolean {
  let found = false;
  const visit = (scope: Pipeline['root']) => {
    for (const node of scope.stages) {
      if (node.kind === 'review' && (node.def as { diff?: unknown }).diff !== false) found = true;
      if (node.body) visit(node.body);
      else if (node.template) visit(node.template.pipeline.root);
    }
  };
  visit(pipeline.root);
  return found;
}

/** What a cache entry keeps of a stage's changes: each file's content as the stage left it; undefined when that cannot be known. */
export function fileChanges(workspace: string, changes: readonly StageChange[]): FileChange[] | undefined {
  const out: FileChange[] = [];
  let bytes = 0;
  for (const c of changes) {
    const change: FileChange = { path: c.path, before: c.before?.hash ?? null, after: null };
    if (c.before?.text !== undefined) change.before_text = c.before.text;
    if (c.before?.binary) change.before_binary = true;
    if (c.shared) change.shared = true;
    if (c.after) {
      let data: Buffer | undefined;
      try {
        data = readFileSync(path.join(workspace, c.path));
      } catch {
        data = undefined;
      }
      if (data === undefined || hashText(data) !== c.after.hash) {
        // A file that moved on since the snapshot is being written by someone else. When another
        // stage that may write was running as it changed (shared), it is that stage's: left out,
        // so that this stage is still cached. Otherwise what this stage left cannot be known.
        if (c.shared) continue;
        return undefined;
      }
      bytes += data.length + (c.before?.text?.length ?? 0);
      if (bytes > MAX_CHANGE_BYTES) return undefined;
      change.after = { hash: c.after.hash, base64: data.toString('base64') };
    }
    out.push(change);
  }
  return out;
}
