import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expandGlobs } from '../../config/files.js';
import type { JsonValue } from '../../config/pipeline.js';

/**
 * A stage's fingerprint (docs/cache-and-watch.md): a hash of its resolved definition (expressions
 * evaluated), the contents of its `inputs` and `context` files, the fingerprints of the stages
 * it needs, and the model. Equal fingerprints mean the stage would do the same work again.
 */
export interface FingerprintParts {
  kind: string;
  /** The stage's definition with expressions evaluated (its `if` left out: it decides whether to run, not what). */
  definition: JsonValue;
  /** Files named by `inputs` and `context`, with their content hashes. */
  files: readonly FileHash[];
  /** Fingerprints of the stages it needs, by id. */
  needs: Readonly<Record<string, string>>;
  model?: string;
  /** Anything else the kind's result depends on (a review's diff, say), already hashed. */
  extra?: Readonly<Record<string, string>>;
}

export interface FileHash {
  path: string;
  hash: string;
}

/** Bumped when what goes into a fingerprint changes, so old cache entries stop matching. */
const FINGERPRINT_VERSION = 1;

export function fingerprint(parts: FingerprintParts): string {
  const canonical = canonicalJson({ v: FINGERPRINT_VERSION, ...parts } as unknown as JsonValue);
  return createHash('sha256').update(canonical).digest('hex');
}

export function hashText(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Content hashes of the files the globs match in the workspace, sorted by path: by content, not
 * modification time, so touching a file without changing it keeps the cache.
 */
export function hashGlobs(patterns: readonly string[], workspace: string): FileHash[] {
  return expandGlobs(patterns, workspace).map((rel) => {
    let hash: string;
    try {
      hash = hashText(readFileSync(path.join(workspace, rel)));
    } catch {
      hash = 'unreadable';
    }
    return { path: rel, hash };
  });
}

/** JSON with object keys sorted at every level, so equal values always hash alike. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
}
