import { closeSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { describeFsError } from '../base/fs-error.js';

export type WriteResult = { ok: true } | { ok: false; error: string };

let counter = 0;

/**
 * Writes a file so that readers see the old content or the new, never a part: the text goes
 * to a temporary file in the same directory, which is then renamed over the target. (No fsync:
 * this survives a killed process, which is what records must; not a power cut.)
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): WriteResult {
  const tmp = `${file}.${process.pid}.${++counter}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
    return { ok: true };
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written, or it is gone already
    }
    return { ok: false, error: describeFsError(err, file) };
  }
}

export function writeJsonAtomic(file: string, value: unknown): WriteResult {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The same, off the event loop's thread (the engine writes records while it starts processes). */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array): Promise<WriteResult> {
  const tmp = `${file}.${process.pid}.${++counter}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
    return { ok: true };
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    return { ok: false, error: describeFsError(err, file) };
  }
}

/** Writes all of `bytes` to an open file (writeSync may write less than asked). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off);
}

/** Closes a descriptor written with writeAllSync; closing cannot lose what a write reported as written. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing to lose: see above
  }
}
