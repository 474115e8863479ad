import type { Iteration } from '../../records/iteration.js';
import { stageBase } from '../../records/paths.js';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { writeJsonAtomic } from '../../records/atomic.js';
import { describeFsError } from '../../base/fs-error.js';
import type { ApprovalAnswer, ApprovalQuestion } from '../../config/generated/run.js';
import { checkApprovalAnswer, checkApprovalQuestion, parseRecord, type Checked } from '../../records/validate.js';

/**
 * The files through which a waiting run and `factory approve` talk, under
 * `.factory/runs/<run>/approvals/`:
 * - `<key>.waiting.json` while a stage waits for a human (what, since when, which process);
 * - `<key>.answer.json`, the answer: complete before it appears (written aside, then
 *   hard-linked into place, which also fails when an answer is there already, so the first
 *   answer wins and a waiting run never reads half of one).
 * A key is the stage path, `@iteration` inside a loop body (`@2.1` in nested loops), and `.budget-N` for the N-th budget
 * question of that stage.
 */

export const APPROVAL_VERSION = 1;

/** The answer and the question files' shapes are schemas/run.schema.json's; each is checked when read. */
export type AnswerRecord = ApprovalAnswer;
export type WaitingRecord = ApprovalQuestion;
export type QuestionKind = AnswerRecord['kind'];

export const approvalsDir = (runDir: string): string => path.join(runDir, 'approvals');
export const answerFile = (runDir: string, key: string): string => path.join(approvalsDir(runDir), `${key}.answer.json`);
export const waitingFile = (runDir: string, key: string): string => path.join(approvalsDir(runDir), `${key}.waiting.json`);

export function questionKey(stage: string, iteration: Iteration | undefined, budgetQuestion?: number): string {
  return `${stageBase(stage, iteration)}${budgetQuestion === undefined ? '' : `.budget-${budgetQuestion}`}`;
}

/** An answer file: none yet, a complete answer, or why the file there is not one (reported, never taken). */
export type ReadAnswer = { ok: true; answer: AnswerRecord | undefined } | { ok: false; error: string };

export function readAnswer(file: string): ReadAnswer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, answer: undefined };
    return { ok: false, error: `cannot read ${describeFsError(err, file)}` };
  }
  const checked = parseRecord(text, checkApprovalAnswer);
  return checked.ok ? { ok: true, answer: checked.value } : { ok: false, error: `${file} is not an approval answer: ${checked.why}` };
}

/** `unreadable`: the answer file there is not one (its error says why). */
export type AnswerWrite = { ok: true } | { ok: false; existing?: AnswerRecord; unreadable?: true; error: string };

let counter = 0;

/** Writes the answer unless one is there already (then `existing` says what it was). */
export function writeAnswerOnce(file: string, answer: AnswerRecord): AnswerWrite {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    return { ok: false, error: describeFsError(err, path.dirname(file)) };
  }
  const tmp = `${file}.${process.pid}.${++counter}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(answer, null, 2)}\n`);
    linkSync(tmp, file);
    return { ok: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const existing = readAnswer(file);
      if (!existing.ok) return { ok: false, error: existing.error, unreadable: true };
      return { ok: false, ...(existing.answer ? { existing: existing.answer } : {}), error: 'already answered' };
    }
    return { ok: false, error: describeFsError(err, file) };
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
  }
}

/** Replaces any answer (an answer given in advance with `apply --approve` wins over an old one). */
export function writeAnswer(file: string, answer: AnswerRecord): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch {
    // reported by the write
  }
  writeJsonAtomic(file, answer);
}

export function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
}

export function writeWaiting(runDir: string, record: Omit<WaitingRecord, 'version' | 'pid' | 'host' | 'since'>): string {
  const file = waitingFile(runDir, record.key);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch {
    // reported by the write
  }
  writeJsonAtomic(file, { version: APPROVAL_VERSION, ...record, pid: process.pid, host: hostname(), since: new Date().toISOString() } satisfies WaitingRecord);
  return file;
}

/** Records of one kind in a run's approvals folder, and why the files that are not such a record are not. */
export interface Listed<T> {
  records: T[];
  unreadable: string[];
}

/** Every question a run has waiting (or had, when its process died while it waited). */
export function listWaiting(runDir: string): Listed<WaitingRecord> {
  return listRecords(runDir, '.waiting.json', 'an approval question', checkApprovalQuestion);
}

/** Every answer a run was given. */
export function listAnswers(runDir: string): Listed<AnswerRecord> {
  return listRecords(runDir, '.answer.json', 'an approval answer', checkApprovalAnswer);
}

function listRecords<T>(runDir: string, suffix: string, what: string, checker: (value: unknown) => Checked<T>): Listed<T> {
  const listed: Listed<T> = { records: [], unreadable: [] };
  let names: string[];
  try {
    names = readdirSync(approvalsDir(runDir)).filter((n) => n.endsWith(suffix)).sort();
  } catch {
    return listed;
  }
  for (const name of names) {
    const file = path.join(approvalsDir(runDir), name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // removed since the listing: the question was answered, or the answer replaced
    }
    const checked = parseRecord(text, checker);
    if (checked.ok) listed.records.push(checked.value);
    else listed.unreadable.push(`${file} is not ${what}: ${checked.why}`);
  }
  return listed;
}

/** A safety net under fs.watch, which can miss events on some file systems. */
const FALLBACK_POLL_MS = 1000;

/**
 * Calls `onAnswer` once when the answer file appears (or with why the file that appeared is not
 * an answer): fs.watch on the folder notices the rename at once; a slow poll covers file systems
 * where watching is not reliable. Returns the stop.
 */
export function watchAnswer(file: string, onAnswer: (read: { ok: true; answer: AnswerRecord } | { ok: false; error: string }) => void): () => void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  let done = false;
  let watcher: FSWatcher | undefined;
  // A file that is not an answer may be one being written by hand (factory writes it whole): it
  // is refused only when it still is not one a poll later.
  let invalidSince: number | undefined;
  const check = () => {
    if (done || !existsSync(file)) return;
    const read = readAnswer(file);
    if (read.ok) {
      if (!read.answer) return;
      stop();
      onAnswer({ ok: true, answer: read.answer });
      return;
    }
    invalidSince ??= Date.now();
    if (Date.now() - invalidSince < FALLBACK_POLL_MS / 2) return;
    stop();
    onAnswer(read);
  };
  // Not unref'd: while a run waits for a human, this is what keeps the process alive.
  const timer = setInterval(check, FALLBACK_POLL_MS);
  const stop = () => {
    done = true;
    clearInterval(timer);
    watcher?.close();
  };
  try {
    mkdirSync(dir, { recursive: true });
    watcher = watch(dir, { persistent: false }, (_event, changed) => {
      if (changed === null || changed.toString() === name) check();
    });
    watcher.on('error', () => undefined);
  } catch {
    // the poll still runs
  }
  check();
  return stop;
}
