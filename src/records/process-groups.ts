import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { groupsFile } from './paths.js';

/**
 * The process groups a run has running, recorded beside its lock (`.factory/lock.groups`), so
 * that the run which takes the lock over after a crash can stop what the dead run left behind.
 * Every program factory starts leads its own process group (stages/process-group.ts); when
 * factory is killed with `kill -9`, nothing ends those groups, and a `--resume` would run a
 * second copy of a command beside the first.
 *
 * The file: one JSON line naming its writer (pid, host, run), then `+PGID MS` when a group starts
 * (MS: the time, to tell a reused group id from ours) and `-PGID` when it has ended; appended
 * with one write per start, before the program can outlive factory, so a writer killed at any
 * moment leaves it readable (a torn last line is ignored). It is made when the first group
 * starts, and removed when the lock is released.
 */

export interface GroupWriter {
  pid: number;
  host: string;
  run: string;
}

/** This process's running groups: process group id → when it started (ms since the epoch). */
const live = new Map<number, number>();
const sinks = new Set<GroupSink>();

/** Records that a program started, leading process group `pgid`. */
export function groupStarted(pgid: number): void {
  live.set(pgid, Date.now());
  for (const sink of sinks) sink.started(pgid);
}

/** Records that the program leading `pgid` has ended. */
export function groupEnded(pgid: number): void {
  if (!live.delete(pgid)) return;
  for (const sink of sinks) sink.ended(pgid);
}

/** Keeps the groups file of `workspace` up to date while this process holds its lock. */
export function recordGroups(workspace: string, writer: GroupWriter): { stop(): void } {
  const sink = new GroupSink(groupsFile(workspace), writer);
  sinks.add(sink);
  if (live.size > 0) sink.open();
  return {
    stop: () => {
      sinks.delete(sink);
      sink.close();
    },
  };
}

class GroupSink {
  private fd: number | undefined;
  private ino: number | undefined;
  /** Recording is best effort: a disk that refuses a write must not fail the run. */
  private broken = false;
  private ends = '';

  constructor(
    private readonly file: string,
    private readonly writer: GroupWriter,
  ) {}

  open(): void {
    if (this.fd !== undefined || this.broken) return;
    try {
      this.fd = openSync(this.file, 'w');
      this.ino = fstatSync(this.fd).ino;
      const lines = [JSON.stringify({ pid: this.writer.pid, host: this.writer.host, run: this.writer.run })];
      for (const [pgid, at] of live) lines.push(`+${pgid} ${at}`);
      writeSync(this.fd, `${lines.join('\n')}\n`);
    } catch {
      this.broken = true;
    }
  }

  started(pgid: number): void {
    if (this.fd === undefined) return this.open();
    this.write(`${this.ends}+${pgid} ${live.get(pgid) ?? Date.now()}\n`);
    this.ends = '';
  }

  /**
   * Ends go out with the next start (one write per program, not two): an end lost to a crash
   * only leaves a group the reaper finds gone, or, its id reused later, started after it was
   * recorded, and skips.
   */
  ended(pgid: number): void {
    if (this.fd === undefined) return;
    this.ends += `-${pgid}\n`;
    if (this.ends.length > 4096) {
      this.write(this.ends);
      this.ends = '';
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
      // Removed only while it is still this file (a successor may have replaced it).
      if (statSync(this.file).ino === this.ino) unlinkSync(this.file);
    } catch {
      // gone already
    }
    this.fd = undefined;
  }

  private write(line: string): void {
    if (this.broken || this.fd === undefined) return;
    try {
      writeSync(this.fd, line);
    } catch {
      this.broken = true;
    }
  }
}

/** Time between SIGTERM and SIGKILL, as for a stage's own programs (stages/process-group.ts). */
const GRACE_MS = 1500;
/** How long groups may take to leave the process table after SIGKILL (a member still running then makes the run refuse). */
const REAP_WAIT_MS = 5000;
const POLL_MS = 20;
/** A process group id whose leader started this long after the recorded start is another group. */
const REUSE_SLACK_MS = 2000;

export type Reaped = { ok: true; stopped: number[] } | { ok: false; message: string };

/**
 * Called by a run that has just taken the lock: when the groups file is there, its writer did not
 * release the lock (it died). The groups it left running on this host are sent SIGTERM, then
 * SIGKILL after the grace period; the run starts once they are gone, and refuses to while any
 * lives on. A writer that still runs (its lock removed by hand) keeps its groups; one on another
 * host cannot be reached from here.
 */
export function reapOrphanGroups(workspace: string): Reaped {
  const file = groupsFile(workspace);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ok: true, stopped: [] };
  }
  const parsed = parseGroups(text);
  const writer = parsed?.writer;
  const ours = writer !== undefined && writer.host === hostname() && writer.pid !== process.pid && !processAlive(writer.pid);
  const orphans = ours ? [...parsed!.groups].filter(([pgid, at]) => groupIsOurs(pgid, at)).map(([pgid]) => pgid) : [];
  const stopped = orphans.filter((pgid) => groupState(pgid) === 'running');
  if (stopped.length > 0) {
    for (const pgid of stopped) signal(pgid, 'SIGTERM');
    waitUntil(() => stopped.every((pgid) => groupState(pgid) !== 'running'), GRACE_MS);
    for (const pgid of stopped) if (groupState(pgid) === 'running') signal(pgid, 'SIGKILL');
    // Gone means gone from the process table: members that exited are reaped by their new
    // parent (init, often on a timer), and until then `kill -0 -PGID` still finds them.
    waitUntil(() => stopped.every((pgid) => groupState(pgid) === 'gone'), REAP_WAIT_MS);
    const left = stopped.filter((pgid) => groupState(pgid) === 'running');
    if (left.length > 0) {
      const kill = left.map((pgid) => `kill -KILL -- -${pgid}`).join('; ');
      return {
        ok: false,
        message: `run ${writer!.run} (pid ${writer!.pid}, now gone) left programs running that could not be stopped: process group${left.length === 1 ? '' : 's'} ${left.join(', ')}; stop them (${kill}) and apply again`,
      };
    }
  }
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
  return { ok: true, stopped };
}

/** The writer and the groups still running when the file was last written, or undefined for a file that is not one. */
export function parseGroups(text: string): { writer: GroupWriter; groups: Map<number, number> } | undefined {
  const lines = text.split('\n');
  let writer: GroupWriter | null;
  try {
    writer = JSON.parse(lines[0] ?? '') as GroupWriter | null;
  } catch {
    return undefined;
  }
  if (typeof writer !== 'object' || writer === null || typeof writer.pid !== 'number' || typeof writer.host !== 'string') return undefined;
  const groups = new Map<number, number>();
  // The last element is what follows the last line break: empty, or a line torn by a crash.
  for (const line of lines.slice(1, -1)) {
    const m = /^([+-])(\d+)(?: (\d+))?$/.exec(line);
    if (!m) continue;
    const pgid = Number(m[2]);
    if (pgid <= 1) continue;
    if (m[1] === '+') groups.set(pgid, Number(m[3] ?? 0));
    else groups.delete(pgid);
  }
  return { writer, groups };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // gone meanwhile
  }
}

/** Waits (synchronously: the run has not started yet) until `done` holds or the time is up. */
function waitUntil(done: () => boolean, ms: number): void {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) Atomics.wait(napCell, 0, 0, POLL_MS);
}
const napCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * A process group: 'gone' when no process has its id (or only another user's, which are not
 * ours to stop: EPERM); 'exited' when every member has exited but some are not reaped yet
 * (zombies, seen on Linux); else 'running'.
 */
function groupState(pgid: number): 'gone' | 'exited' | 'running' {
  try {
    process.kill(-pgid, 0);
  } catch {
    return 'gone';
  }
  const members = procMembers(pgid);
  return members === undefined || members.some((m) => m.running) ? 'running' : 'exited';
}

/** Whether the recorded group id still names the group we recorded, not a later one that reuses the id. */
function groupIsOurs(pgid: number, recordedAt: number): boolean {
  const leader = procMembers(pgid)?.find((m) => m.pid === pgid);
  if (!leader || leader.startedAt === undefined || recordedAt === 0) return true;
  return leader.startedAt <= recordedAt + REUSE_SLACK_MS;
}

interface Member {
  pid: number;
  running: boolean;
  /** When it started, ms since the epoch (from /proc, to the clock tick). */
  startedAt: number | undefined;
}

/** The members of a process group, from /proc; undefined where there is no /proc (not Linux). */
function procMembers(pgid: number): Member[] | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const boot = bootTimeMs();
  const members: Member[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // pgrp field 5, starttime field 22 (clock ticks after boot).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    const ticks = Number(rest[19]);
    members.push({
      pid: Number(name),
      running: rest[0] !== 'Z' && rest[0] !== 'X',
      startedAt: boot === undefined || !Number.isFinite(ticks) ? undefined : boot + ticks * (1000 / CLOCK_TICKS_PER_S),
    });
  }
  return members;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;

function bootTimeMs(): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
