import { createHash, randomBytes } from 'node:crypto';
import { linkSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describeFsError } from '../base/fs-error.js';
import { lockFile } from './paths.js';
import { recordGroups, reapOrphanGroups } from './process-groups.js';

export interface LockInfo {
  pid: number;
  run: string;
  host: string;
  started_at: string;
  /** Makes every lock file's content unique, so a takeover can tell one lock from another. */
  nonce?: string;
}

export type LockResult = { ok: true; release(): void } | { ok: false; message: string; holder?: LockInfo };

/** A lock file whose content cannot be read is taken as stale after this long (a crash mid-write). */
const UNREADABLE_STALE_MS = 10_000;
/** Attempts before giving up on a lock that keeps changing; between attempts behind a live taker, a short nap. */
const MAX_ATTEMPTS = 200;
const NAP_MS = 2;
/** Links of a takeover chain followed at most (each link is a taker that died mid-takeover). */
const MAX_CHAIN = 8;

/**
 * `.factory/lock`: one apply at a time per workspace. A lock file is complete before it appears
 * (written aside, then hard-linked into place, which fails if it exists).
 *
 * A lock left by a process that is gone (same host, dead pid) is taken over, atomically: the
 * right to replace one particular stale lock is a token file named after that lock's content,
 * created exclusively (a hard link fails if it exists), so of several processes that find the
 * same stale lock only one gets the right; it checks the lock is still that one and renames its
 * own lock over it (rename replaces atomically: the lock is never absent, so nobody can link in
 * meanwhile). Checking then unlinking — what this did before — let two processes both remove
 * "the stale lock" when the second in fact removed the first's fresh one (two holders at once in
 * 39 of 100 races of four processes). A taker that dies holding a token leaves it behind; the
 * right then passes along a chain: the token of that token, named after its content, and so on.
 *
 * Holding the lock, the run records its process groups beside it (process-groups.ts); a run
 * that takes the lock over first stops the groups the dead holder left running.
 */
export function acquireLock(workspace: string, run: string, progress?: (run: string) => string | undefined): LockResult {
  const file = lockFile(workspace);
  const nonce = randomBytes(8).toString('hex');
  const info: LockInfo = { pid: process.pid, run, host: hostname(), started_at: new Date().toISOString(), nonce };
  const tmp = `${file}.${process.pid}.${nonce}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`);
  } catch (err) {
    return { ok: false, message: `cannot write the lock: ${describeFsError(err, tmp)}` };
  }
  let taken: 'held' | LockResult;
  try {
    taken = take(file, tmp, progress);
  } finally {
    removeQuietly(tmp);
  }
  if (taken !== 'held') return taken;
  cleanLitter(file, identity(readText(file) ?? ''));
  const reaped = reapOrphanGroups(workspace);
  if (!reaped.ok) {
    release(file, info);
    return { ok: false, message: reaped.message };
  }
  const recording = recordGroups(workspace, info);
  return {
    ok: true,
    release: () => {
      recording.stop();
      release(file, info);
    },
  };
}

/** Takes the lock with the prepared file `tmp`: 'held', or why not. */
function take(file: string, tmp: string, progress: ((run: string) => string | undefined) | undefined): 'held' | LockResult {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      linkSync(tmp, file);
      return 'held';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { ok: false, message: `cannot take the lock: ${describeFsError(err, file)}` };
    }
    const seen = look(file);
    if (seen.kind === 'gone') continue;
    if (seen.kind === 'unreadable') {
      if (seen.text === undefined) return { ok: false, message: `cannot read the lock ${file}: ${seen.error}` };
      if (ageMs(file) < UNREADABLE_STALE_MS) return { ok: false, message: `${file} is being written by another factory; try again` };
    } else if (isAlive(seen.info)) {
      return { ok: false, holder: seen.info, message: heldMessage(seen.info, file, progress) };
    }
    const outcome = takeOver(file, seen.id, tmp);
    if (outcome === 'held') return 'held';
    if (outcome === 'busy') nap(NAP_MS);
  }
  return { ok: false, message: `cannot take the lock ${file}: it keeps changing (another factory is taking over a stale lock); try again` };
}

/**
 * Replaces the stale lock whose content has identity `staleId` with `tmp`, if this process gets
 * the right to: 'held' when it did, 'busy' when a live process is taking it over, 'changed'
 * when the lock is not that one any more.
 */
function takeOver(file: string, staleId: string, tmp: string): 'held' | 'busy' | 'changed' {
  let token = `${file}.takeover-${staleId}`;
  let links = 0;
  for (let spins = 0; ; spins++) {
    if (spins > MAX_ATTEMPTS) return 'busy';
    try {
      linkSync(tmp, token);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return 'changed';
    }
    const taker = look(token);
    if (taker.kind === 'gone') continue;
    if (taker.kind === 'info' && isAlive(taker.info)) return 'busy';
    if (taker.kind === 'unreadable' && (taker.text === undefined || ageMs(token) < UNREADABLE_STALE_MS)) return 'busy';
    // That taker died holding the right: the right passes to whoever takes its token over.
    if (++links > MAX_CHAIN) return 'busy';
    token = `${token}-${taker.id}`;
  }
  try {
    const now = look(file);
    if (now.kind === 'gone' || now.id !== staleId) return 'changed';
    renameSync(tmp, file);
    return 'held';
  } catch {
    return 'changed';
  } finally {
    // The stale lock is no longer there (it never comes back): the token guards nothing now.
    removeQuietly(token);
  }
}

type Seen = { kind: 'gone' } | { kind: 'unreadable'; text?: string; error?: string; id: string } | { kind: 'info'; info: LockInfo; id: string };

/** What a lock (or token) file holds now, with the identity of its content. */
function look(file: string): Seen {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    return { kind: 'unreadable', error: describeFsError(err, file), id: '' };
  }
  const info = parseLock(text);
  return info ? { kind: 'info', info, id: identity(text) } : { kind: 'unreadable', text, id: identity(text) };
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function identity(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo | null;
    return typeof info === 'object' && info !== null && typeof info.pid === 'number' && typeof info.run === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

export function readLock(file: string): LockInfo | 'gone' | 'unreadable' {
  const seen = look(file);
  return seen.kind === 'info' ? seen.info : seen.kind;
}

function heldMessage(holder: LockInfo, file: string, progress: ((run: string) => string | undefined) | undefined): string {
  return `another apply is running in this directory: run ${holder.run} (pid ${holder.pid} on ${holder.host}, started ${holder.started_at}${progressOf(progress, holder.run)}); wait for it to end, or remove ${file} if that process is gone`;
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

const napCell = new Int32Array(new SharedArrayBuffer(4));
/** A short synchronous wait (taking the lock is synchronous; a taker finishes in microseconds). */
function nap(ms: number): void {
  Atomics.wait(napCell, 0, 0, ms);
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Removes what crashed processes left beside the lock: takeover tokens of locks that are gone
 * (every token not about the current lock, which this process holds) and temp files of dead
 * processes. Neither can matter to anyone: a token guards one lock, and locks never come back.
 */
function cleanLitter(file: string, currentId: string): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(`${base}.takeover-`) && !name.startsWith(`${base}.takeover-${currentId}`)) removeQuietly(path.join(dir, name));
    const tmp = new RegExp(`^${base}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`).exec(name);
    if (tmp && !isAlive({ pid: Number(tmp[1]), host: hostname(), run: '', started_at: '' })) removeQuietly(path.join(dir, name));
  }
}

function release(file: string, info: LockInfo): void {
  const holder = readLock(file);
  if (typeof holder === 'object' && holder.pid === info.pid && holder.run === info.run && holder.nonce === info.nonce) removeQuietly(file);
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
