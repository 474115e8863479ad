import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { didYouMean } from '../config/suggest.js';
import { answerFile, listAnswers, listWaiting, readAnswer, writeAnswerOnce, type AnswerRecord, type WaitingRecord } from '../engine/approvals/approval-files.js';
import { approverName } from '../engine/approvals/approval-identity.js';
import { isAlive } from '../records/lock.js';
import { runsDir } from '../records/paths.js';
import { latestRunId, listRuns, loadRun } from '../records/read.js';
import type { StageFile } from '../records/types.js';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { compareIterations, iterationText as describeIteration, type Iteration } from '../records/iteration.js';

interface ApproveFlags {
  reject?: boolean;
  choice?: string;
  comment?: string;
  dir?: string;
}

/**
 * `factory approve RUN STAGE [--reject | --choice ID] [--comment TEXT] [--dir DIR]` (docs/running.md): answers
 * an approve stage, or a budget question, that a running apply waits on, from any shell in the
 * repository. Refuses (exit 2) an unknown run or stage, one that is not waiting, and a second
 * answer. The answer appears complete or not at all, and only the first one counts.
 */
export function registerApprove(program: Command, io: CliIO): Command {
  return program
    .command('approve')
    .description('answer a waiting approve stage or budget question of a running apply')
    .argument('<run>', 'run id, or latest')
    .argument('<stage>', 'the waiting stage, by dotted path (e.g. gate or build.gate)')
    .option('--reject', 'reject instead of approving')
    .option('--choice <id>', 'for a stage that offers options: the id of the one chosen')
    .option('--comment <text>', 'a comment kept with the answer (the stage\'s `comment` output)')
    .option('--dir <dir>', 'the directory holding .factory (default: the current directory or the nearest above it with that run)')
    .action((runArg: string, stage: string, flags: ApproveFlags) => {
      const code = approve(io, runArg, stage, flags);
      if (code !== EXIT.ok) throw new ExitError(code);
    });
}

function approve(io: CliIO, runArg: string, stage: string, flags: ApproveFlags): number {
  const fail = (message: string, code: number = EXIT.usage): number => {
    io.stderr.write(`factory approve: ${message}\n`);
    return code;
  };
  const ws = recordsDir(flags.dir, io.cwd, runArg);
  if (!ws.ok) return fail(ws.error);
  const id = runArg === 'latest' ? latestRunId(ws.dir) : runArg;
  if (id === undefined) return fail(`no runs in ${runsDir(ws.dir)} yet`);
  const loaded = loadRun(ws.dir, id);
  if (!loaded.ok) {
    const ids = listRuns(ws.dir).map((r) => r.id);
    return fail(`${loaded.error}${didYouMean(id, ids)}${ids.length ? `; latest: ${ids.at(-1)}` : ''}`);
  }
  const runDir = loaded.dir;
  const { records: waiting, unreadable } = listWaiting(runDir);
  const mine = waiting.filter((w) => w.stage === stage);
  // A question file that cannot be read may be this stage's: say so rather than "not waiting".
  if (mine.length === 0 && unreadable.length > 0) return fail(unreadable.join('\n'));
  if (mine.length === 0) return notWaiting(fail, id, stage, loaded.stages, waiting, listAnswers(runDir).records);

  const question = mine[0]!;
  if (!isAlive({ pid: question.pid, host: question.host, run: id, started_at: question.since })) {
    return fail(`run ${id} is not running any more: it stopped while "${stage}" waited; resume it with \`factory apply --resume=${id}\` and answer again`);
  }
  const choice = checkChoice(question, flags);
  if (!choice.ok) return fail(choice.message);
  const file = answerFile(runDir, question.key);
  const earlier = readAnswer(file);
  if (!earlier.ok) return fail(earlier.error);
  if (earlier.answer) return fail(alreadyAnswered(id, question, earlier.answer));
  const answer: AnswerRecord = {
    version: 1,
    stage,
    ...(question.iteration === undefined ? {} : { iteration: question.iteration }),
    kind: question.kind,
    approved: flags.reject !== true,
    ...(choice.choice === undefined ? {} : { choice: choice.choice }),
    comment: flags.comment ?? null,
    by: approverName(io.cwd, io.env),
    at: new Date().toISOString(),
    via: 'command',
  };
  const written = writeAnswerOnce(file, answer);
  if (!written.ok) {
    if (written.existing) return fail(alreadyAnswered(id, question, written.existing));
    if (written.unreadable) return fail(written.error);
    return fail(`cannot write the answer: ${written.error}`, EXIT.failed);
  }
  const what = question.kind === 'budget' ? `the budget question of "${stage}"` : `"${stage}"`;
  const verdict = answer.choice !== undefined ? `chose "${answer.choice}" for` : answer.approved ? 'approved' : 'rejected';
  io.stdout.write(`${verdict} ${what}${iterationText(question)} of run ${id} as ${answer.by}${answer.comment ? `: ${answer.comment}` : ''}\n`);
  return EXIT.ok;
}

/** `--choice` goes with a stage that offers options, and names one of them; `--reject` does not. */
function checkChoice(question: WaitingRecord, flags: ApproveFlags): { ok: true; choice?: string } | { ok: false; message: string } {
  const options = question.options;
  if (!options) {
    if (flags.choice === undefined) return { ok: true };
    return { ok: false, message: `"${question.stage}" offers no options, so there is nothing to choose: approve it, or reject it with --reject` };
  }
  const ids = options.map((o) => o.id);
  const list = options.map((o) => `${o.id} (${o.label})`).join(', ');
  if (flags.reject) return { ok: false, message: `"${question.stage}" offers options instead of approve/reject: choose one with --choice ID; its options are ${list}` };
  if (flags.choice === undefined) return { ok: false, message: `"${question.stage}" offers options: choose one with --choice ID; its options are ${list}` };
  if (!ids.includes(flags.choice)) return { ok: false, message: `"${question.stage}" has no option "${flags.choice}"${didYouMean(flags.choice, ids)}; its options are ${list}` };
  return { ok: true, choice: flags.choice };
}

/** Why a stage that has no question waiting cannot be answered: unknown, answered, or just not waiting. */
function notWaiting(fail: (m: string) => number, id: string, stage: string, stages: readonly StageFile[], waiting: readonly WaitingRecord[], answers: readonly AnswerRecord[]): number {
  const others = waiting.length ? `; waiting now: ${[...new Set(waiting.map((w) => w.stage))].join(', ')}` : '';
  const answered = answers.filter((a) => a.stage === stage).sort((a, b) => a.at.localeCompare(b.at)).at(-1);
  if (answered) return fail(`${alreadyAnswered(id, { stage, kind: answered.kind, ...(answered.iteration === undefined ? {} : { iteration: answered.iteration }) }, answered)}${others}`);
  const files = stages.filter((s) => s.path === stage);
  if (files.length === 0) {
    const known = [...new Set([...stages.map((s) => s.path), ...waiting.map((w) => w.stage)])];
    return fail(`run ${id} has no stage "${stage}" waiting, and none of that name has started${didYouMean(stage, known)}${others}`);
  }
  const last = files.reduce((a, b) => (compareIterations(b.iteration, a.iteration) >= 0 ? b : a));
  const ended = { running: 'it is still running', succeeded: 'it already succeeded', failed: 'it already failed', error: 'it ended in error', skipped: 'it was skipped', cancelled: 'it was cancelled' }[last.status];
  return fail(`stage "${stage}" of run ${id} is not waiting for an answer: ${ended}${others}`);
}

function alreadyAnswered(id: string, q: Pick<WaitingRecord, 'stage' | 'kind' | 'iteration'>, a: AnswerRecord): string {
  const what = q.kind === 'budget' ? `the budget question of "${q.stage}"` : `"${q.stage}"`;
  return `${what}${iterationText(q)} of run ${id} was answered already: ${a.choice !== undefined ? `chose "${a.choice}"` : a.approved ? 'approved' : 'rejected'} by ${a.by ?? 'someone'} at ${a.at}${a.comment ? ` (${a.comment})` : ''}`;
}

function iterationText(q: { iteration?: Iteration | undefined }): string {
  return q.iteration === undefined ? '' : ` (${describeIteration(q.iteration)})`;
}

/**
 * The directory holding `.factory`: `--dir`, else the current directory or the nearest one
 * above it that has this run (so any shell in the repository can answer).
 */
function recordsDir(dir: string | undefined, cwd: string, run: string): { ok: true; dir: string } | { ok: false; error: string } {
  if (dir !== undefined) return findWorkspace(dir, cwd);
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    const runs = runsDir(d);
    if (run === 'latest' ? existsSync(runs) : existsSync(path.join(runs, run))) return { ok: true, dir: d };
    if (path.dirname(d) === d) break;
  }
  return { ok: true, dir: path.resolve(cwd) };
}
