import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { writeJsonAtomic } from '../../records/atomic.js';
import { describeFsError } from '../../base/fs-error.js';
import type { ChoiceOption } from '../../records/events.js';

/**
 * The files through which a waiting run and `factory approve` talk, under
 * `.factory/runs/<run>/approvals/`:
 * - `<key>.waiting.json` while a stage waits for a human (what, since when, which process);
 * - `<key>.answer.json`, the answer: complete before it appears (written aside, then
 *   hard-linked into place, which also fails when an answer is there already, so the first
 *   answer wins and a waiting run never reads half of one).
 * A key is the stage path, `@iteration` inside a loop body, and `.budget-N` for the N-th budget
 * question of that stage.
 */

export const APPROVAL_VERSION = 1;

export type QuestionKind = 'approve' | 'budget';

export interface AnswerRecord {
  version: typeof APPROVAL_VERSION;
  stage: string;
  iteration?: number;
  kind: QuestionKind;
  approved: boolean;
  /** The option chosen, for an approve stage with `options`. */
  choice?: string;
  comment: string | null;
  by: string | null;
  at: string;
  /** How it was given: `command` (factory approve), `prompt` (the terminal), `advance` (apply --approve). */
  via: 'command' | 'prompt' | 'advance';
}

export interface WaitingRecord {
  version: typeof APPROVAL_VERSION;
  stage: string;
  iteration?: number;
  kind: QuestionKind;
  key: string;
  message: string;
  command: string;
  /** An approve stage's choices: `factory approve --choice` takes one of their ids. */
  options?: ChoiceOption[];
  pid: number;
  host: string;
  since: string;
}

export const approvalsDir = (runDir: string): string => path.join(runDir, 'approvals');
export const answerFile = (runDir: string, key: string): string => path.join(approvalsDir(runDir), `${key}.answer.json`);
export const waitingFile = (runDir: string, key: string): string => path.join(approvalsDir(runDir), `${key}.waiting.json`);

export function questionKey(stage: string, iteration: number | undefined, budgetQuestion?: number): string {
  return `${stage}${iteration === undefined ? '' : `@${iteration}`}${budgetQuestion === undefined ? '' : `.budget-${budgetQuestion}`}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A complete, well-formed answer, or undefined (none yet, or not one of ours). */
export function readAnswer(file: string): AnswerRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.approved !== 'boolean' || typeof value.stage !== 'string' || typeof value.at !== 'string') return undefined;
  return value as unknown as AnswerRecord;
}

export type AnswerWrite = { ok: true } | { ok: false; existing?: AnswerRecord; error: string };

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
      return { ok: false, ...(existing ? { existing } : {}), error: 'already answered' };
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

/** Every question a run has waiting (or had, when its process died while it waited). */
export function listWaiting(runDir: string): WaitingRecord[] {
  return listJson(runDir, '.waiting.json').filter((v): v is WaitingRecord => typeof (v as WaitingRecord).stage === 'string' && typeof (v as WaitingRecord).key === 'string');
}

/** Every answer a run was given. */
export function listAnswers(runDir: string): AnswerRecord[] {
  return listJson(runDir, '.answer.json').filter((v): v is AnswerRecord => typeof (v as AnswerRecord).stage === 'string' && typeof (v as AnswerRecord).approved === 'boolean');
}

function listJson(runDir: string, suffix: string): unknown[] {
  let names: string[];
  try {
    names = readdirSync(approvalsDir(runDir)).filter((n) => n.endsWith(suffix)).sort();
  } catch {
    return [];
  }
  const out: unknown[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(readFileSync(path.join(approvalsDir(runDir), name), 'utf8')));
    } catch {
      // being replaced right now, or not ours
    }
  }
  return out;
}

/** A safety net under fs.watch, which can miss events on some file systems. */
const FALLBACK_POLL_MS = 1000;

/**
 * Calls `onAnswer` once when the answer file appears: fs.watch on the folder notices the rename
 * at once; a slow poll covers file systems where watching is not reliable. Returns the stop.
 */
export function watchAnswer(file: string, onAnswer: (answer: AnswerRecord) => void): () => void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  let done = false;
  let watcher: FSWatcher | undefined;
  const check = () => {
    if (done || !existsSync(file)) return;
    const answer = readAnswer(file);
    if (!answer) return;
    stop();
    onAnswer(answer);
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
