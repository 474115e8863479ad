import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Expect, FileContains } from '../config/generated/scenario.js';
import type { StepRun } from './steps.js';

/** An expectation that did not hold (or a step that could not be judged), as results and feedback at level `full` show it. */
export interface Failure {
  /** `setup 1`, `step 2`. */
  step: string;
  /** The command as written. */
  command: string;
  /** What was expected, e.g. `exit_code: 0`, `stdout_contains: "MCMXCIV"`. */
  expectation: string;
  /** An excerpt of what happened instead. */
  actual: string;
  /** Why the step itself did not finish: `timeout`, `spawn`, `cancelled`. */
  reason?: 'timeout' | 'spawn' | 'cancelled';
}

/** Characters of actual output shown in a failure. */
export const EXCERPT_CHARS = 400;

export function excerpt(text: string, max = EXCERPT_CHARS): string {
  const t = text.replace(/\s+$/, '');
  if (t === '') return '(empty)';
  return t.length > max ? `${t.slice(0, max)}… (${t.length - max} more characters)` : t;
}

const list = <T>(v: T | readonly T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? [...(v as T[])] : [v as T]);

/**
 * Every expectation of a step, each checked (docs/configuration.md): all must hold. A step that timed
 * out, was cancelled or could not start fails once, with that reason, before any expectation.
 */
export function checkStep(label: string, run: StepRun, expect: Expect | undefined, workspace: string): Failure[] {
  const fail = (expectation: string, actual: string, reason?: Failure['reason']): Failure => ({ step: label, command: run.command, expectation, actual, ...(reason ? { reason } : {}) });
  if (run.timedOut) return [fail('finishes within its time limit', `timed out after ${run.durationMs}ms; its process tree was killed. stdout: ${excerpt(run.stdout)}`, 'timeout')];
  if (run.cancelled) return [fail('finishes', 'interrupted', 'cancelled')];
  if (run.spawnError) return [fail('starts', run.spawnError, 'spawn')];
  if (!expect) return [];
  const out: Failure[] = [];
  if (expect.exit_code !== undefined && run.exitCode !== expect.exit_code) {
    out.push(fail(`exit_code: ${expect.exit_code}`, `exit code ${run.exitCode ?? 'none (killed)'}; stderr: ${excerpt(run.stderr)}`));
  }
  for (const text of list(expect.stdout_contains)) if (!run.stdout.includes(text)) out.push(fail(`stdout_contains: ${JSON.stringify(text)}`, `stdout: ${excerpt(run.stdout)}`));
  for (const re of list(expect.stdout_matches)) {
    const m = matches(re, run.stdout);
    if (m !== true) out.push(fail(`stdout_matches: /${re}/`, m === false ? `stdout: ${excerpt(run.stdout)}` : m));
  }
  for (const text of list(expect.stderr_contains)) if (!run.stderr.includes(text)) out.push(fail(`stderr_contains: ${JSON.stringify(text)}`, `stderr: ${excerpt(run.stderr)}`));
  for (const re of list(expect.stderr_matches)) {
    const m = matches(re, run.stderr);
    if (m !== true) out.push(fail(`stderr_matches: /${re}/`, m === false ? `stderr: ${excerpt(run.stderr)}` : m));
  }
  for (const p of list(expect.file_exists)) if (!isFile(workspace, p)) out.push(fail(`file_exists: ${p}`, `${p} does not exist`));
  for (const fc of list<FileContains>(expect.file_contains)) {
    const text = readText(workspace, fc.path);
    if (text === undefined) out.push(fail(`file_contains: ${fc.path} contains ${JSON.stringify(fc.text)}`, `${fc.path} does not exist`));
    else if (!text.includes(fc.text)) out.push(fail(`file_contains: ${fc.path} contains ${JSON.stringify(fc.text)}`, `${fc.path}: ${excerpt(text)}`));
  }
  return out;
}

/** A setup command must exit 0. */
export function checkSetup(label: string, run: StepRun): Failure[] {
  return checkStep(label, run, { exit_code: 0 }, '');
}

function matches(pattern: string, text: string): boolean | string {
  try {
    return new RegExp(pattern).test(text);
  } catch (err) {
    return `the pattern is not a valid regular expression: ${(err as Error).message}`;
  }
}

function isFile(workspace: string, p: string): boolean {
  try {
    statSync(path.resolve(workspace, p));
    return true;
  } catch {
    return false;
  }
}

function readText(workspace: string, p: string): string | undefined {
  try {
    return readFileSync(path.resolve(workspace, p), 'utf8');
  } catch {
    return undefined;
  }
}
