import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { RunFold } from './fold.js';
import { describeFsError } from '../base/fs-error.js';
import { isRecord } from '../base/is-record.js';
import { RunJournalReader } from './journal.js';
import { mergedRunMeta } from './merge.js';
import { journalDir, runDir, runJson, runsDir, stagesDir } from './paths.js';
import { deriveRunRecord, toStageRecord } from './store.js';
import type { JournalEvent } from './journal-events.js';
import { RECORD_VERSION, type RunMeta, type RunRecord, type StageFile } from './types.js';
import { checkRunRecord, checkStageFile, parseRecord } from './validate.js';

export type LoadedRun =
  | { ok: true; dir: string; record: RunRecord; stages: StageFile[] }
  /** `unreadable`: there is a record, but a file of it cannot be read (the error names it and why). */
  | { ok: false; error: string; unreadable?: true };

/**
 * A run as its files say (docs/cache-and-watch.md). Its journals are the truth: every `journal/*.ndjson`,
 * folded (a line torn by a kill ignored), on top of the stage files of the earlier layout if the
 * run has any. A run without journals is a record of the earlier layout: run.json for the run's
 * own fields, each stage from its own file in stages/ (the truth, should run.json lag behind),
 * and without run.json the stage files alone (downloaded from upstream jobs).
 */
export function loadRun(workspace: string, id: string): LoadedRun {
  const polled = new RunFollower(workspace, id).poll();
  if (!polled.ok) return polled;
  return { ok: true, dir: polled.dir, record: polled.record, stages: polled.stages };
}

/**
 * Follows one run as it goes: each `poll()` reads only what its journals gained since the last
 * one (offset-based) and folds it into the record, so a live reader (`factory view`, an
 * OpenTelemetry exporter) costs a read of the new lines, not of the whole run.
 */
export class RunFollower {
  readonly dir: string;
  private readonly reader: RunJournalReader;
  private fold: RunFold | undefined;
  private readonly runs: string;

  constructor(
    workspace: string,
    readonly id: string,
  ) {
    this.dir = runDir(workspace, id);
    this.reader = new RunJournalReader(this.dir);
    this.runs = runsDir(workspace);
  }

  /** The record as it stands now, and the events read since the last poll (in time order). */
  poll(): (LoadedRun & { ok: true; events: JournalEvent[] }) | (LoadedRun & { ok: false }) {
    const { dir, id } = this;
    const read = this.reader.poll();
    if (!read.ok) return { ok: false, unreadable: true, error: read.error };
    if (this.reader.files.length > 0) {
      // The first journal seen: the stage files of the earlier layout, if any, lie under it.
      if (!this.fold) {
        const legacy = readStageFiles(dir);
        if (typeof legacy === 'string') return { ok: false, unreadable: true, error: legacy };
        this.fold = new RunFold(legacy.length > 0 ? withRunJson(dir, legacy) : []);
      }
      for (const e of read.events) this.fold.apply(e);
      const stages = this.fold.stages();
      const meta = this.fold.meta(id) ?? legacyMeta(dir) ?? mergedRunMeta(id, stages);
      return { ok: true, dir, record: deriveRunRecord(meta, stages, this.fold.spend.total()), stages, events: read.events };
    }
    const legacy = readStageFiles(dir);
    if (typeof legacy === 'string') return { ok: false, unreadable: true, error: legacy };
    const json = readRunJson(dir);
    if (json === 'absent') {
      if (legacy.length > 0) return { ok: true, dir, record: deriveRunRecord(mergedRunMeta(id, legacy), legacy), stages: legacy, events: [] };
      return { ok: false, error: `run "${id}" has no record in ${this.runs}` };
    }
    if (typeof json === 'string') return { ok: false, unreadable: true, error: json };
    const stages = mergeStages(json, legacy);
    return { ok: true, dir, record: deriveRunRecord(ownFields(json), stages), stages, events: [] };
  }
}

/** run.json of the earlier layout, checked against the schema: 'absent', why it cannot be read, or the record. */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- 'absent' is named for the reader; any other string says why it cannot be read
function readRunJson(dir: string): RunRecord | 'absent' | string {
  const file = runJson(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    return `cannot read ${describeFsError(err, file)}`;
  }
  const checked = parseRecord(text, checkRunRecord);
  return checked.ok ? checked.value : `${file} is not a run record: ${checked.why}`;
}

function ownFields(meta: RunRecord): RunMeta {
  return { id: meta.id, name: meta.name, status: meta.status, exit_code: meta.exit_code, started_at: meta.started_at, ended_at: meta.ended_at };
}

function legacyMeta(dir: string): RunMeta | undefined {
  const json = readRunJson(dir);
  return typeof json === 'object' ? ownFields(json) : undefined;
}

/** A run of the earlier layout resumed by this version: its run.json's stages under its stage files. */
function withRunJson(dir: string, files: StageFile[]): StageFile[] {
  const json = readRunJson(dir);
  return typeof json === 'object' ? mergeStages(json, files) : files;
}

/**
 * Stages named by run.json first (its order), each replaced by its own file; then files it does
 * not know. run.json does not say a stage's kind: a stage known only from it counts as a command.
 */
function mergeStages(meta: RunRecord, files: readonly StageFile[]): StageFile[] {
  const byPath = new Map<string, StageFile>();
  for (const [p, s] of Object.entries(meta.stages)) byPath.set(p, { version: RECORD_VERSION, path: p, kind: 'command', ...toStageRecord(s) });
  const iterations: StageFile[] = [];
  for (const file of files) {
    if (file.iteration !== undefined) iterations.push(file);
    else byPath.set(file.path, file);
  }
  return [...byPath.values(), ...iterations];
}

/** `stages/<path>[@<iteration>].json`: the name of a stage file of the earlier layout. */
const STAGE_FILE_NAME = /^([a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*)(?:@\d+)?\.json$/;

/**
 * The stage files of the earlier layout (top level first), each checked against the schema; or
 * why one cannot be read (the run is then unreadable: a stage file is the truth for its stage, so
 * a damaged one is not skipped). Other records kept beside them (a scenario stage's
 * `<path>.scenarios.json`) are told apart by the path they hold, which is not their name's.
 */
function readStageFiles(dir: string): StageFile[] | string {
  let names: string[];
  try {
    names = readdirSync(stagesDir(dir)).filter((n) => STAGE_FILE_NAME.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return `cannot read ${describeFsError(err, stagesDir(dir))}`;
  }
  const top: StageFile[] = [];
  const iterations: StageFile[] = [];
  for (const name of names) {
    const file = path.join(stagesDir(dir), name);
    const read = readStageFile(file, STAGE_FILE_NAME.exec(name)![1]!);
    if (typeof read === 'string') return read;
    if (read === undefined) continue;
    if (read.iteration !== undefined) iterations.push(read);
    else top.push(read);
  }
  return [...top, ...iterations];
}

/** One stage file, checked; undefined when the file is another record (or went away); else why it cannot be read. */
function readStageFile(file: string, stagePath: string): StageFile | undefined | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // Written aside and renamed into place: a file that went away between the listing and the read was replaced.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `cannot read ${describeFsError(err, file)}`;
  }
  const parsed = parseRecord(text, (value) => ({ ok: true, value }));
  if (!parsed.ok) return `${file} is not a stage file: ${parsed.why}`;
  const value = parsed.value;
  if (isRecord(value) && value.path !== stagePath) return undefined;
  const checked = checkStageFile(value);
  return checked.ok ? checked.value : `${file} is not a stage file: ${checked.why}`;
}

export type RunListing = { id: string; ok: true; record: RunRecord } | { id: string; ok: false; error: string; at: string };

/**
 * Every run in .factory/runs, oldest first (by start time, then id): readable ones with their
 * record, unreadable ones with why (placed by when their folder last changed).
 */
export function scanRuns(workspace: string): RunListing[] {
  const runs: (RunListing & { sort: string })[] = [];
  for (const id of runIds(workspace)) {
    const loaded = loadRun(workspace, id);
    if (loaded.ok) runs.push({ id, ok: true, record: loaded.record, sort: loaded.record.started_at });
    else if (loaded.unreadable) {
      const at = changedAt(runDir(workspace, id));
      runs.push({ id, ok: false, error: loaded.error, at, sort: at });
    }
  }
  return runs.sort((a, b) => a.sort.localeCompare(b.sort) || a.id.localeCompare(b.id)).map(({ sort: _sort, ...r }) => r);
}

/** Every run with a readable record, oldest first (by start time, then id). */
export function listRuns(workspace: string): { id: string; record: RunRecord }[] {
  return scanRuns(workspace).flatMap((r) => (r.ok ? [{ id: r.id, record: r.record }] : []));
}

/**
 * The id of the most recently started run, if any, whether or not its record can be read (so
 * that `--resume` and `show latest` report a damaged latest run instead of taking an older one).
 * Cheap: the first line of each journal says when the run started.
 */
export function latestRunId(workspace: string): string | undefined {
  let best: { id: string; started: string } | undefined;
  for (const id of runIds(workspace)) {
    const started = startedAt(workspace, id);
    if (started === undefined) continue;
    if (!best || started > best.started || (started === best.started && id > best.id)) best = { id, started };
  }
  return best?.id;
}

function runIds(workspace: string): string[] {
  try {
    return readdirSync(runsDir(workspace), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

function startedAt(workspace: string, id: string): string | undefined {
  const dir = runDir(workspace, id);
  let names: string[] = [];
  try {
    names = readdirSync(journalDir(dir)).filter((n) => n.endsWith('.ndjson'));
  } catch {
    // the earlier layout
  }
  const starts = names.map((n) => firstStart(path.join(journalDir(dir), n)));
  if (starts.length > 0 && starts.every((s) => s !== undefined)) return starts.sort()[0];
  if (starts.length === 0) {
    const json = readRunJson(dir);
    if (typeof json === 'object') return json.started_at;
    const legacy = json === 'absent' ? readStageFiles(dir) : undefined;
    if (Array.isArray(legacy) && legacy.length === 0) return undefined;
  }
  const loaded = loadRun(workspace, id);
  if (loaded.ok) return loaded.record.started_at;
  return loaded.unreadable ? changedAt(dir) : undefined;
}

/** The run's start as the journal's first line (`run_opened`) says, if it says so. */
function firstStart(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const end = buf.subarray(0, n).indexOf(0x0a);
    if (end === -1) return undefined;
    const first = JSON.parse(buf.subarray(0, end).toString('utf8')) as { type?: unknown; started_at?: unknown };
    return first.type === 'run_opened' && typeof first.started_at === 'string' ? first.started_at : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** When a run's folder last changed, as a time to sort by. */
function changedAt(dir: string): string {
  try {
    return statSync(dir).mtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}
