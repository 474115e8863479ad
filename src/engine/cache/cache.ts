import { mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '../../config/pipeline.js';
import { writeFileAtomic } from '../../records/atomic.js';
import { canonicalJson, hashText } from './fingerprint.js';
import type { Usage } from '../../base/usage.js';

/**
 * The stage cache (docs/cache-and-watch.md) under `.factory/cache/stages/`: one file per fingerprint,
 * written atomically and carrying a checksum of its own content, so an entry cut short by a
 * crash, or edited, is ignored and rebuilt, never trusted.
 */
export interface FileChange {
  /** Workspace-relative POSIX path. */
  path: string;
  /** Content hash before the stage ran; null when the stage created the file. */
  before: string | null;
  /** The text before, when it was a text file small enough to show in a diff (a review of a cached run's change shows it). */
  before_text?: string;
  /** The file before was binary. */
  before_binary?: boolean;
  /**
   * Another stage that may write files was running when this one changed, so it may be that
   * stage's: re-applied when the file is as this stage found it or gone, and never a reason to
   * run again.
   */
  shared?: boolean;
  /** What the stage left: its content, or null when it deleted the file. */
  after: { hash: string; base64: string } | null;
}

export interface CacheEntry {
  version: 1;
  fingerprint: string;
  /** Dotted stage path, for messages. */
  stage: string;
  kind: string;
  outputs: Record<string, JsonValue>;
  /** What producing it cost, as first paid (a cache hit costs nothing). */
  usage: Usage;
  cost_usd: number;
  /** Files the stage changed (generate stages and loops), re-applied on a hit. */
  changes: FileChange[];
  run: string;
  created_at: string;
  /** What went into the fingerprint, for `factory plan` to say what changed since. */
  parts?: JsonValue;
}

interface StoredEntry extends CacheEntry {
  checksum: string;
}

export function cacheDir(workspace: string): string {
  return path.join(workspace, '.factory', 'cache', 'stages');
}

function entryFile(workspace: string, fp: string): string {
  return path.join(cacheDir(workspace), `${fp}.json`);
}

function checksumOf(entry: CacheEntry): string {
  return hashText(canonicalJson(entry as unknown as JsonValue));
}

function isEntry(value: unknown, fp: string): value is StoredEntry {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Partial<StoredEntry>;
  return e.version === 1 && e.fingerprint === fp && typeof e.checksum === 'string' && typeof e.outputs === 'object' && Array.isArray(e.changes);
}

export class StageCache {
  constructor(private readonly workspace: string) {}

  /** The entry for a fingerprint, or undefined when there is none or it cannot be trusted. */
  get(fp: string): CacheEntry | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(entryFile(this.workspace, fp), 'utf8'));
    } catch {
      return undefined;
    }
    if (!isEntry(parsed, fp)) return this.drop(fp);
    const { checksum, ...entry } = parsed;
    if (checksumOf(entry) !== checksum) return this.drop(fp);
    return entry;
  }

  put(entry: CacheEntry): { ok: true } | { ok: false; error: string } {
    try {
      mkdirSync(cacheDir(this.workspace), { recursive: true });
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const stored: StoredEntry = { ...entry, checksum: checksumOf(entry) };
    return writeFileAtomic(entryFile(this.workspace, entry.fingerprint), `${JSON.stringify(stored)}\n`);
  }

  /** Removes the whole cache (`factory clean`). */
  clear(): void {
    rmSync(cacheDir(this.workspace), { recursive: true, force: true });
    rmSync(latestFile(this.workspace), { force: true });
  }

  private drop(fp: string): undefined {
    try {
      unlinkSync(entryFile(this.workspace, fp));
    } catch {
      // already gone
    }
    return undefined;
  }
}

export interface WorkspaceFiles {
  read(rel: string): Buffer | undefined;
}

/** Reads workspace files by relative path; a path that would leave the workspace is refused. (Writing is patches.ts's writeChanges.) */
export function workspaceFiles(workspace: string): WorkspaceFiles {
  const abs = (rel: string) => {
    const normal = path.posix.normalize(rel);
    if (path.isAbsolute(rel) || normal.startsWith('../') || normal === '..' || rel.includes('\0')) throw new Error(`refusing the path ${JSON.stringify(rel)} from the cache`);
    return path.join(workspace, normal);
  };
  return {
    read(rel) {
      try {
        return readFileSync(abs(rel));
      } catch {
        return undefined;
      }
    },
  };
}

/** The changes still to write (files as the stage found them), or the first file edited since. */
export function pendingChanges(changes: readonly FileChange[], files: Pick<WorkspaceFiles, 'read'>): { ok: true; todo: FileChange[] } | { ok: false; path: string; message: string } {
  const todo: FileChange[] = [];
  for (const change of changes) {
    let current: Buffer | undefined;
    try {
      current = files.read(change.path);
    } catch (err) {
      return { ok: false, path: change.path, message: (err as Error).message };
    }
    const hash = current === undefined ? null : hashText(current);
    if (hash === (change.after?.hash ?? null)) continue;
    if (hash === change.before) {
      todo.push(change);
      continue;
    }
    // A shared file (see FileChange.shared) that is gone is put back; one changed otherwise is left alone.
    if (change.shared) {
      if (hash === null && change.after) todo.push(change);
      continue;
    }
    return { ok: false, path: change.path, message: `${change.path} was edited since the cached run changed it` };
  }
  return { ok: true, todo };
}

/** `.factory/cache/latest.json`: each stage's last cached fingerprint, for `plan` to say what changed since. */
function latestFile(workspace: string): string {
  return path.join(workspace, '.factory', 'cache', 'latest.json');
}

export function readLatest(workspace: string): Record<string, string> {
  try {
    const value = JSON.parse(readFileSync(latestFile(workspace), 'utf8')) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** Merges these stages' fingerprints into the index (best effort: the cache works without it). */
export function writeLatest(workspace: string, updates: ReadonlyMap<string, string>): void {
  if (updates.size === 0) return;
  const merged = { ...readLatest(workspace), ...Object.fromEntries(updates) };
  try {
    mkdirSync(path.dirname(latestFile(workspace)), { recursive: true });
    writeFileAtomic(latestFile(workspace), `${JSON.stringify(merged, null, 2)}\n`);
  } catch {
    // the index only explains; the cache itself is intact
  }
}
