import { chmodSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveInWorkspace, type ConfineMode, type Confined } from '../../workspace/confine.js';
import type { ToolContext } from './types.js';

/** The one way tools resolve a path: confinement with the stage's policy. */
export function confine(ctx: ToolContext, requested: unknown, mode: ConfineMode): Confined {
  return resolveInWorkspace(ctx.workspace, requested, { deny: ctx.deny, writes: ctx.writes, mode });
}

/** Bytes looked at to decide whether a file is binary. */
const SNIFF_BYTES = 8000;

export function isBinary(buf: Uint8Array): boolean {
  const end = Math.min(buf.length, SNIFF_BYTES);
  for (let i = 0; i < end; i++) if (buf[i] === 0) return true;
  return false;
}

let counter = 0;

/** Writes through a temporary file in the same folder and a rename, keeping an existing file's mode. */
export function writeAtomic(abs: string, content: string, mode?: number): void {
  mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = path.join(path.dirname(abs), `.factory-write-${process.pid}-${++counter}.tmp`);
  try {
    writeFileSync(tmp, content, { flag: 'wx' });
    if (mode !== undefined) chmodSync(tmp, mode & 0o7777);
    renameSync(tmp, abs);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
}

export function statOrUndefined(abs: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(abs);
  } catch {
    return undefined;
  }
}

/** An fs error as a sentence for the model, naming the path it asked for, never the absolute one. */
export function describeFsError(err: unknown, rel: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const shown = JSON.stringify(rel || '.');
  switch (code) {
    case 'ENOENT':
      return `${shown} does not exist`;
    case 'EISDIR':
      return `${shown} is a folder, not a file (use list_files to see what it holds)`;
    case 'ENOTDIR':
      return `a part of ${shown} is a file, not a folder`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied for ${shown}`;
    case 'EEXIST':
      return `${shown} already exists`;
    case 'ENOSPC':
      return 'the disk is full';
    case 'EROFS':
      return `${shown} is on a read-only file system`;
    case undefined:
    default:
      return `could not access ${shown}${code ? ` (${code})` : ''}`;
  }
}
