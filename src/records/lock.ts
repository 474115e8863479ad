import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describeFsError } from './fs-error.js';
import { lockFile } from './paths.js';

export interface LockInfo {
  pid: number;
  run: string;
  host: string;
  started_at: string;
}

export type LockResult = { ok: true; release(): void } | { ok: false; message: string; holder?: LockInfo };

/** A lock file whose content cannot be read is taken as stale after this long (a crash mid-write). */
const UNREADABLE_STALE_MS = 10_000;

/**
 * `.factory/lock`: one apply at a time per workspace. The file is complete before it appears
 * (written aside, then hard-linked into place, which fails if it exists). A lock left by a
 * process that is gone (same host, dead pid) is taken over.
 */
export function acquireLock(workspace: string, run: string, progress?: (run: string) => string | undefined): LockResult {
  const file = lockFile(workspace);
  const info: LockInfo = { pid: process.pid, run, host: hostname(), started_at: new Date().toISOString() };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`);
  } catch (err) {
    return { ok: false, message: `cannot write the lock: ${describeFsError(err, tmp)}` };
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
        return { ok: true, release: () => release(file, info) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { ok: false, message: `cannot take the lock: ${describeFsError(err, file)}` };
      }
      const holder = readLock(file);
      if (holder === 'gone') continue;
      if (holder === 'unreadable') {
        if (ageMs(file) < UNREADABLE_STALE_MS) return { ok: false, message: `${file} is being written by another factory; try again` };
      } else if (isAlive(holder)) {
        return {
          ok: false,
          holder,
          message: `another apply is running in this directory: run ${holder.run} (pid ${holder.pid} on ${holder.host}, started ${holder.started_at}${progressOf(progress, holder.run)}); wait for it to end, or remove ${file} if that process is gone`,
        };
      }
      try {
        unlinkSync(file);
      } catch {
        // someone else took it over first; try again
      }
    }
    return { ok: false, message: `cannot take the lock ${file}: it keeps changing` };
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/** "; stages so far: 3 ok, 1 running", read from the holder's journal (never fails the message). */
function progressOf(progress: ((run: string) => string | undefined) | undefined, run: string): string {
  try {
    const said = progress?.(run);
    return said ? `; stages so far: ${said}` : '';
  } catch {
    return '';
  }
}

export function readLock(file: string): LockInfo | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === 'number' && typeof info.run === 'string' ? info : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Whether the lock's process may still run: on another host we cannot tell, so yes. */
export function isAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

function release(file: string, info: LockInfo): void {
  const holder = readLock(file);
  if (typeof holder === 'object' && holder.pid === info.pid && holder.run === info.run) {
    try {
      unlinkSync(file);
    } catch {
      // gone already
    }
  }
}

/**
 * Waits for the lock while another apply of the same run holds it — jobs of one distributed run
 * sharing a folder (Argo's volume claim) take turns, as stages on one machine would — polling
 * until it is free, another run takes it, or the signal aborts.
 */
export async function waitForRunLock(workspace: string, run: string, signal: AbortSignal, pollMs = 250): Promise<LockResult> {
  for (;;) {
    const lock = acquireLock(workspace, run);
    if (lock.ok || lock.holder?.run !== run) return lock;
    if (signal.aborted) return { ok: false, message: `interrupted while waiting for the lock: ${lock.message}` };
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
