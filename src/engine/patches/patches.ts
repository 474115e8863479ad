import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic, type WriteResult } from '../../records/atomic.js';
import { describeFsError } from '../../base/fs-error.js';
import { appliedPatchesFile, changesDir, patchFile } from '../../records/paths.js';
import type { FileChange } from '../cache/cache.js';
import type { SnapshotEntry } from '../../workspace/snapshot.js';

/**
 * File changes that travel between machines (docs/export.md): what a stage changed in the
 * workspace, as `.factory/runs/<run>/changes/<stage id>.patch`, and applying the patches of the
 * stages a job downloaded before its own stage starts.
 *
 * The format is JSON, not a unified diff: every changed file with the content hash it had before
 * the stage and its whole content after (base64) — or null when the stage deleted it. It is
 * exact for binary files, needs no git, and applies only onto the files the stage found: a file
 * that is neither as the stage found it nor as it left it is a conflict, and then nothing is
 * written at all.
 */
export const PATCH_VERSION = 1;

export interface PatchChange extends FileChange {
  /** The file's executable bit after the stage (absent for a deletion). */
  executable?: boolean;
}

export interface Patch {
  version: typeof PATCH_VERSION;
  format: 'factory-patch';
  run: string;
  stage: string;
  changes: PatchChange[];
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Folders a patch never touches (the snapshot leaves them out, and a downloaded patch may lie). */
const NEVER = new Set(['.git', '.factory', 'node_modules']);

/**
 * A stage's changes as a patch: each changed file with the content it has now (read from disk:
 * snapshots keep only small text files) and its executable bit. `changes` come from the
 * engine's snapshots (workspace-tracker.ts), the one record of what a stage changed.
 */
export function patchChanges(workspace: string, changes: readonly { path: string; before: SnapshotEntry | undefined; after: SnapshotEntry | undefined }[]): PatchChange[] {
  const out: PatchChange[] = [];
  for (const change of changes) {
    const entry = change.before;
    const was = entry?.hash ?? null;
    // What the file was, when the snapshot kept it: a review's diff on a machine where the
    // change is already in place shows it (see beforeEntry).
    const old = entry === undefined ? {} : { ...(entry.text !== undefined ? { before_text: entry.text } : {}), ...(entry.binary ? { before_binary: true } : {}) };
    if (change.after === undefined) {
      if (was !== null) out.push({ path: change.path, before: was, ...old, after: null });
      continue;
    }
    const abs = path.join(workspace, change.path);
    let data: Buffer;
    let mode: number;
    try {
      data = readFileSync(abs);
      mode = statSync(abs).mode;
    } catch {
      // Gone since the snapshot: the stage (or one running beside it) deleted it after all.
      if (was !== null) out.push({ path: change.path, before: was, ...old, after: null });
      continue;
    }
    const hash = sha256(data);
    // Rewritten with the content it had: nothing for another machine to do.
    if (hash === was) continue;
    out.push({ path: change.path, before: was, ...old, after: { hash, base64: data.toString('base64') }, executable: (mode & 0o111) !== 0 });
  }
  return out;
}

/** Writes the stage's patch atomically; returns its hash (the hash of the file's bytes). */
export function writePatch(runDir: string, patch: Patch): { ok: true; hash: string } | { ok: false; error: string } {
  const text = `${JSON.stringify(patch, null, 1)}\n`;
  try {
    mkdirSync(changesDir(runDir), { recursive: true });
  } catch (err) {
    return { ok: false, error: describeFsError(err, changesDir(runDir)) };
  }
  const written = writeFileAtomic(patchFile(runDir, patch.stage), text);
  return written.ok ? { ok: true, hash: sha256(text) } : written;
}

/** A stage that ran again and changed nothing leaves no stale patch behind. */
export function removePatch(runDir: string, stage: string): void {
  rmSync(patchFile(runDir, stage), { force: true });
}

export type ReadPatch = { ok: true; patch: Patch; hash: string } | { ok: false; error: string } | { ok: false; missing: true; error: string };

export function readPatch(runDir: string, stage: string): ReadPatch {
  return readPatchFile(patchFile(runDir, stage), stage);
}

/** A patch file anywhere (a fan-out instance's, say), checked to hold `stage`'s changes. */
export function readPatchFile(file: string, stage: string): ReadPatch {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, missing: true, error: `${file} does not exist` };
    return { ok: false, error: `cannot read ${describeFsError(err, file)}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, error: `${file} is not a factory patch (not JSON)` };
  }
  const problem = checkPatch(parsed, stage);
  if (problem) return { ok: false, error: `${file} is not a usable factory patch: ${problem}` };
  return { ok: true, patch: parsed as Patch, hash: sha256(bytes) };
}

function checkPatch(value: unknown, stage: string): string | undefined {
  if (value === null || typeof value !== 'object') return 'not an object';
  const p = value as Partial<Patch>;
  if (p.format !== 'factory-patch') return 'no `format: factory-patch`';
  if (p.version !== PATCH_VERSION) return `version ${String(p.version)} (this factory reads version ${PATCH_VERSION})`;
  if (p.stage !== stage) return `it holds the changes of stage "${String(p.stage)}"`;
  if (!Array.isArray(p.changes)) return 'no list of changes';
  for (const c of p.changes as unknown[]) {
    const change = c as Partial<PatchChange> | null;
    if (change === null || typeof change !== 'object' || typeof change.path !== 'string') return 'a change without a path';
    const bad = badPath(change.path);
    if (bad) return `${JSON.stringify(change.path)}: ${bad}`;
    if (change.before !== null && typeof change.before !== 'string') return `${change.path}: no \`before\` hash`;
    if (change.after !== null) {
      if (typeof change.after !== 'object' || typeof change.after.hash !== 'string' || typeof change.after.base64 !== 'string') return `${change.path}: no \`after\` content`;
      if (sha256(Buffer.from(change.after.base64, 'base64')) !== change.after.hash) return `${change.path}: its content does not match its hash`;
    }
  }
  return undefined;
}

/** Why a path from a patch may not be written, or undefined. */
function badPath(rel: string): string | undefined {
  if (rel === '' || rel.includes('\0') || rel.includes('\\') || rel.startsWith('/') || path.isAbsolute(rel)) return 'not a relative path';
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return 'not a plain relative path';
  if (NEVER.has(parts[0]!)) return `inside ${parts[0]}/, which patches never touch`;
  return undefined;
}

/** Which patches were applied here (or made here), by stage: the hash of the patch file. */
export function readApplied(runDir: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(appliedPatchesFile(runDir), 'utf8')) as { patches?: unknown };
    if (parsed.patches && typeof parsed.patches === 'object') return { ...(parsed.patches as Record<string, string>) };
  } catch {
    // none yet
  }
  return {};
}

export function markApplied(runDir: string, entries: Record<string, string>): WriteResult {
  try {
    mkdirSync(changesDir(runDir), { recursive: true });
  } catch (err) {
    return { ok: false, error: describeFsError(err, changesDir(runDir)) };
  }
  return writeJsonAtomic(appliedPatchesFile(runDir), { version: 1, patches: { ...readApplied(runDir), ...entries } });
}

export interface PendingPatch {
  /** The stage that made the changes. */
  stage: string;
  /** The stage that needs them (for messages). */
  neededBy: string;
  patch: Patch;
}

export type ApplyPatchesResult = { ok: true; files: string[] } | { ok: false; message: string };

/**
 * Applies patches in the order given (topological), all or nothing: every change is checked
 * against the workspace as the earlier patches leave it before any file is written, and a write
 * that fails puts back the files already written.
 */
export function applyPatches(workspace: string, pending: readonly PendingPatch[], describeFile: (stage: string) => string): ApplyPatchesResult {
  const hashes = new Map<string, string | null>();
  const finals = new Map<string, PatchChange>();
  const current = (rel: string): string | null => {
    if (hashes.has(rel)) return hashes.get(rel)!;
    const unsafe = unsafeTarget(workspace, rel);
    if (unsafe) throw new PatchConflict(unsafe);
    try {
      return sha256(readFileSync(path.join(workspace, rel)));
    } catch {
      return null;
    }
  };
  for (const { stage, neededBy, patch } of pending) {
    const where = `the file changes of stage "${stage}" (${describeFile(stage)}) do not apply before stage "${neededBy}" starts`;
    for (const change of patch.changes) {
      let now: string | null;
      try {
        now = current(change.path);
      } catch (err) {
        return { ok: false, message: `${where}: ${change.path}: ${(err as Error).message}; nothing was applied` };
      }
      const target = change.after?.hash ?? null;
      if (now === target) {
        hashes.set(change.path, target);
        continue;
      }
      if (now !== change.before) {
        const found = change.before === null ? 'absent' : 'as it was';
        const state = now === null ? 'it does not exist here' : 'it has other content here';
        return { ok: false, message: `${where}: "${stage}" found ${change.path} ${found} and changed it, but ${state} (changed since, in this checkout or by another stage); nothing was applied` };
      }
      hashes.set(change.path, target);
      finals.set(change.path, change);
    }
  }
  const written = writeChanges(workspace, [...finals.values()]);
  if (!written.ok) return { ok: false, message: `the file changes of the upstream stages cannot be written: ${written.message}; the files already written were put back` };
  return { ok: true, files: [...finals.keys()] };
}

/**
 * Writes changes already checked against the workspace, all or nothing: a path that is not safe
 * to write (outside the workspace, through a symbolic link, into .git, .factory or
 * node_modules) stops it before anything is written, and a write that fails puts back the files
 * already written. Shared by patches between jobs and by cache hits.
 */
export function writeChanges(workspace: string, changes: readonly PatchChange[]): { ok: true } | { ok: false; message: string } {
  for (const change of changes) {
    const unsafe = unsafeTarget(workspace, change.path);
    if (unsafe) return { ok: false, message: `${change.path}: ${unsafe}` };
  }
  const done: { rel: string; old: Buffer | undefined; mode: number | undefined }[] = [];
  try {
    for (const change of changes) {
      const abs = path.join(workspace, change.path);
      const old = existsSync(abs) ? readFileSync(abs) : undefined;
      const mode = old === undefined ? undefined : statSync(abs).mode & 0o777;
      done.push({ rel: change.path, old, mode });
      writeChange(abs, change, mode);
    }
  } catch (err) {
    for (const { rel, old, mode } of done.reverse()) {
      try {
        const abs = path.join(workspace, rel);
        if (old === undefined) rmSync(abs, { force: true });
        else {
          writeFileAtomic(abs, old);
          if (mode !== undefined) chmodSync(abs, mode);
        }
      } catch {
        // best effort: the caller's message says what failed
      }
    }
    return { ok: false, message: (err as Error).message };
  }
  return { ok: true };
}

class PatchConflict extends Error {}

/** A change's file as it was before, as a snapshot entry (null: it did not exist). */
export function beforeEntry(change: PatchChange): SnapshotEntry | null {
  if (change.before === null) return null;
  const text = typeof change.before_text === 'string' ? change.before_text : undefined;
  const entry: SnapshotEntry = { size: text === undefined ? 0 : Buffer.byteLength(text), mtimeMs: 0, hash: change.before, binary: change.before_binary === true };
  return text === undefined ? entry : { ...entry, text };
}

/** `mode`: the file's mode before, kept when the change does not say (a cache entry). */
function writeChange(abs: string, change: PatchChange, mode: number | undefined): void {
  if (change.after === null) {
    rmSync(abs, { force: true });
    return;
  }
  mkdirSync(path.dirname(abs), { recursive: true });
  const written = writeFileAtomic(abs, Buffer.from(change.after.base64, 'base64'));
  if (!written.ok) throw new Error(written.error);
  // Patches carry the executable bit; a cache entry does not, and keeps the mode the file had
  // (the atomic write replaced the file, and with it the mode).
  if (change.executable !== undefined) chmodSync(abs, change.executable ? 0o755 : 0o644);
  else if (mode !== undefined) chmodSync(abs, mode);
}

/** A path whose folders are symbolic links could lead out of the workspace: refused. */
function unsafeTarget(workspace: string, rel: string): string | undefined {
  const bad = badPath(rel);
  if (bad) return bad;
  const parts = rel.split('/');
  let at = workspace;
  for (const part of parts) {
    at = path.join(at, part);
    try {
      if (lstatSync(at).isSymbolicLink()) return `${path.relative(workspace, at)} is a symbolic link; patches do not write through links`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
