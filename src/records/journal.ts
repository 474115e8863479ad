import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../base/fs-error.js';
import { closeQuietly, writeAllSync } from './atomic.js';
import type { JournalEvent, WrittenEvent } from './journal-events.js';
import { journalDir, journalFile } from './paths.js';
import { checkJournalEvent, parseRecord } from './validate.js';

/**
 * One apply's journal (docs/cache-and-watch.md): opened once, appended one line per event with one
 * synchronous write, so an event is on disk (in the page cache: a killed process loses nothing)
 * before the engine goes on. A failed write is kept, not thrown, for the engine to act on.
 */
export class JournalWriter {
  private fd: number | undefined;
  private failed: string | undefined;

  private constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens (creating) `journal/<writer>.ndjson` for appending. A writer that appends to its own
   * journal again (a job run twice on one machine) first cuts a line a kill left torn, so the
   * journal stays a list of whole lines.
   */
  static open(runDir: string, writer: string): { ok: true; journal: JournalWriter } | { ok: false; error: string } {
    const file = journalFile(runDir, writer);
    try {
      mkdirSync(journalDir(runDir), { recursive: true });
    } catch (err) {
      return { ok: false, error: describeFsError(err, journalDir(runDir)) };
    }
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o644);
    } catch (err) {
      return { ok: false, error: describeFsError(err, file) };
    }
    try {
      const size = fstatSync(fd).size;
      if (size > 0) {
        const whole = lastNewline(fd, size) + 1;
        if (whole < size) ftruncateSync(fd, whole);
      }
    } catch (err) {
      closeSync(fd);
      return { ok: false, error: describeFsError(err, file) };
    }
    return { ok: true, journal: new JournalWriter(file, fd) };
  }

  get error(): string | undefined {
    return this.failed;
  }

  append(event: WrittenEvent): void {
    if (this.fd === undefined || this.failed !== undefined) return;
    const line = Buffer.from(`${JSON.stringify(event)}\n`);
    try {
      writeAllSync(this.fd, line);
    } catch (err) {
      this.failed = describeFsError(err, this.file);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeQuietly(this.fd);
    this.fd = undefined;
  }
}

/** The offset of the last `\n` of the file's first `size` bytes, or -1. */
function lastNewline(fd: number, size: number): number {
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i !== -1) return start + i;
    end = start;
  }
  return -1;
}

export type ReadEvents = { ok: true; events: JournalEvent[] } | { ok: false; error: string };

/**
 * Reads one journal from an offset on, and can be resumed where it stopped: each `read()` gives
 * the whole lines appended since the last one (a line still being written, or torn by a kill,
 * is left for later). This is how live readers — `runs`, `show`, a later `factory view` or an
 * OpenTelemetry exporter — follow a run without reading it again from the start.
 */
export class JournalTail {
  private line = 0;

  constructor(
    readonly file: string,
    private pos = 0,
  ) {}

  /** Bytes consumed so far: resume a later reader here. */
  get offset(): number {
    return this.pos;
  }

  read(): ReadEvents {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, events: [] };
      return { ok: false, error: `cannot read ${describeFsError(err, this.file)}` };
    }
    let buf: Buffer;
    try {
      const size = fstatSync(fd).size;
      if (size <= this.pos) return { ok: true, events: [] };
      buf = Buffer.alloc(size - this.pos);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.pos + got);
        if (n === 0) break;
        got += n;
      }
      buf = buf.subarray(0, got);
    } catch (err) {
      return { ok: false, error: `cannot read ${describeFsError(err, this.file)}` };
    } finally {
      closeSync(fd);
    }
    const end = buf.lastIndexOf(0x0a);
    if (end === -1) return { ok: true, events: [] };
    // A `\n` byte never occurs inside a UTF-8 sequence: whole lines decode on their own.
    const lines = buf.subarray(0, end).toString('utf8').split('\n');
    const events: JournalEvent[] = [];
    for (const text of lines) {
      this.line++;
      // A journal is input (it may come from another machine): each line is checked against the
      // schema's journal_event, which spells out the fields the fold reads, so folding meets no surprise.
      const checked = parseRecord(text, checkJournalEvent);
      if (!checked.ok) return { ok: false, error: `${this.file}: line ${this.line} is not a journal event: ${checked.why}` };
      events.push(checked.value);
    }
    this.pos += end + 1;
    return { ok: true, events };
  }
}

/**
 * Every journal of a run, followed together: `poll()` picks up journals that appeared since (a
 * download from another machine, a new apply) and the lines appended to the known ones.
 */
export class RunJournalReader {
  private readonly tails = new Map<string, JournalTail>();

  constructor(readonly runDir: string) {}

  /** The journal files seen so far, by name. */
  get files(): string[] {
    return [...this.tails.keys()];
  }

  /** What was appended since the last poll, in time order (ties: by journal name, then line). */
  poll(): ReadEvents {
    let names: string[];
    try {
      names = readdirSync(journalDir(this.runDir)).filter((n) => n.endsWith('.ndjson')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
      else return { ok: false, error: `cannot read ${describeFsError(err, journalDir(this.runDir))}` };
    }
    for (const name of names) if (!this.tails.has(name)) this.tails.set(name, new JournalTail(path.join(journalDir(this.runDir), name)));
    const events: JournalEvent[] = [];
    for (const tail of this.tails.values()) {
      const read = tail.read();
      if (!read.ok) return read;
      for (const e of read.events) events.push(e);
    }
    return { ok: true, events: byTime(events) };
  }
}

/** Stable: events of one time keep the order they were read in. */
function byTime(events: JournalEvent[]): JournalEvent[] {
  return events.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

/**
 * The raw events of all journals of a run, in time order (a torn last line ignored); the events
 * of a journal that cannot be read are left out (loadRun reports it). For readers that need
 * more than the fold: the model calls' usage, the answers of completed calls on `--resume`.
 */
export function readJournalEvents(runDir: string): JournalEvent[] {
  const events: JournalEvent[] = [];
  let names: string[];
  try {
    names = readdirSync(journalDir(runDir)).filter((n) => n.endsWith('.ndjson')).sort();
  } catch {
    return [];
  }
  for (const name of names) {
    const read = new JournalTail(path.join(journalDir(runDir), name)).read();
    if (read.ok) for (const e of read.events) events.push(e);
  }
  return byTime(events);
}
