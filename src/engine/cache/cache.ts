import { mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '../../config/pipeline.js';
import { writeFileAtomic } from '../../records/atomic.js';
import { canonicalJson, hashText } from './fingerprint.js';
import type { CacheEntry as StoredEntry, FileChange } from '../../config/generated/run.js';
import { checkCacheEntry, parseRecord } from '../../records/validate.js';

/**
 * The stage cache (docs/cache-and-watch.md) under `.factory/cache/stages/`: one file per fingerprint,
 * written atomically and carrying a checksum of its own content. An entry is checked against
 * schemas/run.schema.json's `cache_entry`, then its checksum: one cut short by a crash, edited, or
 * of another shape is a miss, dropped and rebuilt, never trusted.
 */
export type { FileChange } from '../../config/generated/run.js';

/** An entry as the engine makes and uses it; the file adds its checksum. */
export type CacheEntry = Omit<StoredEntry, 'checksum'>;

export function cacheDir(workspace: string): string {
  return path.join(workspace, '.factory', 'cache', 'stages');
}

function entryFile(workspace: string, fp: string): string {
  return path.join(cacheDir(workspace), `${fp}.json`);
}

function checksumOf(entry: CacheEntry): string {
  return hashText(canonicalJson(entry as unknown as JsonValue));
}

export class StageCache {
  constructor(private readonly workspace: string) {}

  /** The entry for a fingerprint, or undefined when there is none or it cannot be trusted. */
  get(fp: string): CacheEntry | undefined {
    let text: string;
    try {
      text = readFileSync(entryFile(this.workspace, fp), 'utf8');
    } catch {
      return undefined;
    }
    const checked = parseRecord(text, checkCacheEntry);
    if (!checked.ok || checked.value.fingerprint !== fp) return this.drop(fp);
    const { checksum, ...entry } = checked.value;
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
