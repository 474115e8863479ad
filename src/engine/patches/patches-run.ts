import path from 'node:path';
import type { Scope } from '../../config/pipeline.js';
import { spentByStages } from '../../records/merge.js';
import { patchFile } from '../../records/paths.js';
import type { StageFile } from '../../records/types.js';
import { applyPatches, beforeEntry, markApplied, patchChanges, readApplied, readPatch, removePatch, writePatch, type PendingPatch } from './patches.js';
import type { Selection } from '../schedule/selection.js';
import type { RunState } from '../state.js';
import type { StageChange } from '../../workspace/tracker.js';
import { totalTokens } from '../../base/usage.js';

/**
 * Where a run joins records written on other machines (docs/export.md): the run's budget starts
 * from what the kept stages spent, the file changes of the kept upstream stages are applied (in
 * topological order, each patch once), and — for a run with a shared `--run-id` — every
 * top-level stage that runs here leaves its own changes as a patch for the jobs downstream
 * (PatchWriter, fed by the run cache).
 */
export type JoinResult = { ok: true; applied: string[] } | { ok: false; message: string };

export interface JoinOptions {
  selection: Selection;
  /** `--only`. */
  only: readonly string[] | undefined;
  /** Write a patch for each top-level stage that runs (a shared `--run-id`). */
  track: boolean;
  /** The budgets already start from what the run's journals spent (records of the earlier layout do not say). */
  spentCounted?: boolean;
}

export function joinRecords(state: RunState, options: JoinOptions): JoinResult {
  if (!options.spentCounted) carrySpent(state, options.selection.kept.values());
  const scope = state.pipeline.root;
  if (options.track && state.cache) {
    const writer = new PatchWriter(state);
    state.cache.onTopLevelChanges = (stage, changes) => writer.stageChanged(stage, changes);
  }
  // A new run keeps nothing: no patch to apply, nothing already in place.
  if (options.selection.kept.size === 0) return { ok: true, applied: [] };
  const pending = pendingPatches(state, scope, options);
  if (!pending.ok) return pending;
  showAsBefore(state, scope, options.selection);
  let applied: string[] = [];
  if (pending.list.length > 0) {
    // The run started before these changes: a review here diffs against the checkout, as on one machine.
    state.models?.runStart();
    const snapshots = state.cache?.tracker;
    snapshots?.runStart();
    // To the engine's snapshots the patches are a writer like a stage (watch mode ignores their writes).
    snapshots?.begin('\u0000patches', '', { changes: false, writer: true });
    const result = applyPatches(state.pipeline.dir, pending.list.map((p) => p.pending), (stage) => display(state, patchFile(state.store.dir, stage)));
    snapshots?.end('\u0000patches');
    if (!result.ok) return result;
    applied = pending.list.map((p) => p.pending.stage);
    markApplied(state.store.dir, Object.fromEntries(pending.list.map((p) => [p.pending.stage, p.hash])));
  }
  return { ok: true, applied };
}

/** The run ledger starts from what the records this run keeps spent (on this machine or others). */
function carrySpent(state: RunState, kept: Iterable<StageFile>): void {
  const ledger = state.models?.runLedger;
  if (!ledger) return;
  const spent = spentByStages(kept);
  const tokens = totalTokens(spent.usage);
  if (tokens === 0 && spent.cost_usd === 0) return;
  ledger.charge(spent.usage, spent.cost_usd);
  state.contexts.budget = ledger.context();
}

/**
 * The patches to apply: those of kept stages that the stages about to run need (all kept stages
 * without `--only`), not applied here yet, in topological order.
 */
function pendingPatches(state: RunState, scope: Scope, options: JoinOptions): { ok: true; list: { pending: PendingPatch; hash: string }[] } | { ok: false; message: string } {
  const { kept, planned } = options.selection;
  const targets = options.only ? options.only.filter((id) => planned.has(id)) : scope.stages.filter((s) => planned.has(s.id)).map((s) => s.id);
  const needed = new Set<string>();
  if (options.only) for (const id of targets) for (const up of scope.byId.get(id)?.upstream ?? []) needed.add(up);
  const applied = readApplied(state.store.dir);
  const list: { pending: PendingPatch; hash: string }[] = [];
  for (const node of topological(scope)) {
    if (!kept.has(node.id) || (options.only && !needed.has(node.id))) continue;
    const read = readPatch(state.store.dir, node.id);
    if (!read.ok && 'missing' in read) continue;
    const neededBy = targets.find((t) => scope.byId.get(t)?.upstream.has(node.id)) ?? targets[0] ?? node.id;
    if (!read.ok) return { ok: false, message: `the file changes of stage "${node.id}" cannot be applied before stage "${neededBy}" starts: ${read.error}` };
    if (applied[node.id] === read.hash) continue;
    list.push({ pending: { stage: node.id, neededBy, patch: read.patch }, hash: read.hash });
  }
  return { ok: true, list };
}

/**
 * Changes of kept stages that are already in this workspace (made here, or applied by an earlier
 * apply of the run: a shared volume, a `--resume`) happened after the run started, so a review
 * here diffs against the files as they were before them — as on one machine, and as a job whose
 * patches are applied after its run-start snapshot sees it.
 */
function showAsBefore(state: RunState, scope: Scope, selection: Selection): void {
  const tracker = state.cache?.tracker;
  if (!tracker) return;
  const applied = readApplied(state.store.dir);
  const combined = new Map<string, { path: string; before: ReturnType<typeof beforeEntry>; afterHash: string | null }>();
  for (const node of topological(scope)) {
    if (!selection.kept.has(node.id) || applied[node.id] === undefined) continue;
    const read = readPatch(state.store.dir, node.id);
    if (!read.ok || read.hash !== applied[node.id]) continue;
    for (const change of read.patch.changes) {
      const afterHash = change.after?.hash ?? null;
      const first = combined.get(change.path);
      // The first stage's `before`, the last stage's `after`.
      combined.set(change.path, { path: change.path, before: first ? first.before : beforeEntry(change), afterHash });
    }
  }
  if (combined.size > 0) tracker.overlay([...combined.values()]);
}

/** The scope's stages with every stage after the stages it needs (stable: the file's order otherwise). */
function topological(scope: Scope): Scope['stages'] {
  const out: Scope['stages'][number][] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const node = scope.byId.get(id);
    if (!node) return;
    for (const need of node.needs) visit(need);
    out.push(node);
  };
  for (const s of scope.stages) visit(s.id);
  return out;
}

function display(state: RunState, file: string): string {
  const rel = path.relative(state.pipeline.dir, file);
  return rel.startsWith('..') ? file : rel;
}

/**
 * Writes the patch of each top-level stage that ran here, from what the engine's snapshots say
 * it changed (the run cache hands them over as the stage ends, cache hits included). On one
 * machine, stages running at the same time share the workspace, so each one's patch may hold
 * the other's changes; a job runs one stage, so its patch is exact.
 */
export class PatchWriter {
  constructor(private readonly state: RunState) {}

  stageChanged(stage: string, changes: readonly StageChange[]): void {
    const dir = this.state.store.dir;
    try {
      const patch = patchChanges(this.state.pipeline.dir, changes);
      if (patch.length === 0) {
        removePatch(dir, stage);
        return;
      }
      const written = writePatch(dir, { version: 1, format: 'factory-patch', run: this.state.runId, stage, changes: patch });
      if (!written.ok) throw new Error(written.error);
      // Made here: this machine's files already are as the patch leaves them.
      const marked = markApplied(dir, { [stage]: written.hash });
      if (!marked.ok) throw new Error(marked.error);
    } catch (err) {
      this.state.stopping ??= { path: '', message: `the file changes of stage "${stage}" cannot be written to the run record: ${(err as Error).message}`, record: true };
    }
  }
}
