import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { applyPatches, patchChanges, PATCH_VERSION, type Patch } from '../patches/patches.js';
import { instancePatchFile, stageBase, workDir } from '../../records/paths.js';
import type { Iteration } from '../../records/iteration.js';
import { writeFileAtomic } from '../../records/atomic.js';
import { changesBetween, takeSnapshot, type Snapshot } from '../../workspace/snapshot.js';
import { copyWorkspace } from '../../workspace/isolate.js';
import { describeFsError } from '../../base/fs-error.js';
import type { Reason } from '../../records/reasons.js';

/**
 * One isolated instance's copy of the workspace (section 13): taken when it starts, turned into a
 * patch of section 11's format when it ends, and applied with the all-or-nothing writer after
 * the join.
 */
export interface IsolatedCopy {
  dir: string;
  before: Snapshot;
}

export async function takeCopy(workspace: string, runId: string, instancePath: string, iteration: Iteration | undefined, ignore: readonly string[] | undefined): Promise<{ ok: true; copy: IsolatedCopy } | { ok: false; reason: Reason; message: string }> {
  const dir = path.join(workDir(workspace, runId), stageBase(instancePath, iteration));
  try {
    await copyWorkspace(workspace, dir);
  } catch (err) {
    return { ok: false, reason: { kind: 'write', path: dir }, message: `cannot copy the workspace for the instance: ${describeFsError(err, dir)}` };
  }
  return { ok: true, copy: { dir, before: takeSnapshot(dir, ignore ? { ignore } : {}) } };
}

/** What the instance changed in its copy, as a patch, also written under the run's `instances/` for inspection. */
export function patchOfCopy(copy: IsolatedCopy, runId: string, runDirPath: string, instancePath: string, iteration: Iteration | undefined, ignore: readonly string[] | undefined): Patch {
  const after = takeSnapshot(copy.dir, { previous: copy.before, ...(ignore ? { ignore } : {}) });
  const changes = changesBetween(copy.before, after).map((c) => ({ path: c.path, before: copy.before.get(c.path), after: after.get(c.path) }));
  const patch: Patch = { version: PATCH_VERSION, format: 'factory-patch', run: runId, stage: instancePath, changes: patchChanges(copy.dir, changes) };
  const file = instancePatchFile(runDirPath, instancePath, iteration);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, `${JSON.stringify(patch, null, 1)}\n`);
  } catch {
    // The patch file is for inspection; the join applies the patch held here.
  }
  return patch;
}

export type Applied = { ok: true; files: string[] } | { ok: false; reason: Reason; message: string };

/**
 * Applies the chosen instances' patches in index order, all or nothing: a change that does not
 * apply (two instances changed one file differently, or the workspace changed meanwhile) is a
 * `conflict` and no file is written.
 */
export function applyInstancePatches(workspace: string, stagePath: string, patches: readonly Patch[]): Applied {
  if (patches.length === 0) return { ok: true, files: [] };
  const pending = patches.map((patch) => ({ stage: patch.stage, neededBy: stagePath, patch }));
  const r = applyPatches(workspace, pending, () => 'an isolated instance');
  if (r.ok) return r;
  return { ok: false, reason: { kind: 'conflict', paths: conflictingPaths(patches) }, message: r.message.replace(/ before stage "[^"]*" starts/, ' after the join') };
}

/** Paths two patches both change to different content; else every path of the patches. */
function conflictingPaths(patches: readonly Patch[]): string[] {
  const seen = new Map<string, string | null>();
  const both = new Set<string>();
  for (const p of patches) {
    for (const c of p.changes) {
      const target = c.after?.hash ?? null;
      if (seen.has(c.path) && seen.get(c.path) !== target) both.add(c.path);
      seen.set(c.path, target);
    }
  }
  return both.size > 0 ? [...both].sort() : [...seen.keys()].sort();
}
