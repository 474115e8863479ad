import { didYouMean } from '../../config/suggest.js';
import { isAlive } from '../../records/lock.js';
import { runsDir } from '../../records/paths.js';
import { latestRunId, listRuns, loadRun } from '../../records/read.js';
import type { StageFile } from '../../records/types.js';
import { compareIterations, iterationText as describeIteration, type Iteration } from '../../records/iteration.js';
import { answerFile, listAnswers, listWaiting, readAnswer, writeAnswerOnce, type AnswerRecord, type WaitingRecord } from './approval-files.js';

/** What a person answers: `factory approve`'s flags, or the page of `factory view`. */
export interface AnswerRequest {
  run: string;
  stage: string;
  reject?: boolean;
  choice?: string;
  comment?: string;
  /** Who answers (approverName). */
  by: string;
  via: AnswerRecord['via'];
}

/**
 * `refused`: the answer is not taken (unknown run or stage, not waiting, answered already, a
 * bad choice), said for the person who gave it; `failed`: it could not be written.
 */
export type AnswerOutcome =
  | { ok: true; answer: AnswerRecord; question: WaitingRecord; run: string; text: string }
  | { ok: false; why: 'refused' | 'failed'; message: string };

/**
 * Answers an approve stage or budget question that a running apply waits on, in the records of
 * `workspace` (docs/running.md). The one set of rules for `factory approve` and `factory view`:
 * the answer appears complete or not at all, and only the first one counts.
 */
export function answerQuestion(workspace: string, req: AnswerRequest): AnswerOutcome {
  const refuse = (message: string): AnswerOutcome => ({ ok: false, why: 'refused', message });
  const { stage } = req;
  const id = req.run === 'latest' ? latestRunId(workspace) : req.run;
  if (id === undefined) return refuse(`no runs in ${runsDir(workspace)} yet`);
  const loaded = loadRun(workspace, id);
  if (!loaded.ok) {
    const ids = listRuns(workspace).map((r) => r.id);
    return refuse(`${loaded.error}${didYouMean(id, ids)}${ids.length ? `; latest: ${ids.at(-1)}` : ''}`);
  }
  const runDir = loaded.dir;
  const { records: waiting, unreadable } = listWaiting(runDir);
  const mine = waiting.filter((w) => w.stage === stage);
  // A question file that cannot be read may be this stage's: say so rather than "not waiting".
  if (mine.length === 0 && unreadable.length > 0) return refuse(unreadable.join('\n'));
  if (mine.length === 0) return refuse(notWaiting(id, stage, loaded.stages, waiting, listAnswers(runDir).records));

  const question = mine[0]!;
  if (!isAlive({ pid: question.pid, host: question.host, run: id, started_at: question.since })) {
    return refuse(`run ${id} is not running any more: it stopped while "${stage}" waited; resume it with \`factory apply --resume=${id}\` and answer again`);
  }
  const choice = checkChoice(question, req);
  if (!choice.ok) return refuse(choice.message);
  const file = answerFile(runDir, question.key);
  const earlier = readAnswer(file);
  if (!earlier.ok) return refuse(earlier.error);
  if (earlier.answer) return refuse(alreadyAnswered(id, question, earlier.answer));
  const answer: AnswerRecord = {
    version: 1,
    stage,
    ...(question.iteration === undefined ? {} : { iteration: question.iteration }),
    kind: question.kind,
    approved: req.reject !== true,
    ...(choice.choice === undefined ? {} : { choice: choice.choice }),
    comment: req.comment ?? null,
    by: req.by,
    at: new Date().toISOString(),
    via: req.via,
  };
  const written = writeAnswerOnce(file, answer);
  if (!written.ok) {
    if (written.existing) return refuse(alreadyAnswered(id, question, written.existing));
    if (written.unreadable) return refuse(written.error);
    return { ok: false, why: 'failed', message: `cannot write the answer: ${written.error}` };
  }
  return { ok: true, answer, question, run: id, text: answeredText(id, question, answer) };
}

function answeredText(id: string, question: WaitingRecord, answer: AnswerRecord): string {
  const what = question.kind === 'budget' ? `the budget question of "${question.stage}"` : `"${question.stage}"`;
  const verdict = answer.choice !== undefined ? `chose "${answer.choice}" for` : answer.approved ? 'approved' : 'rejected';
  return `${verdict} ${what}${iterationText(question)} of run ${id} as ${answer.by}${answer.comment ? `: ${answer.comment}` : ''}`;
}

/** A choice goes with a stage that offers options, and names one of them; a rejection does not. */
function checkChoice(question: WaitingRecord, req: AnswerRequest): { ok: true; choice?: string } | { ok: false; message: string } {
  const options = question.options;
  if (!options) {
    if (req.choice === undefined) return { ok: true };
    return { ok: false, message: `"${question.stage}" offers no options, so there is nothing to choose: approve it, or reject it with --reject` };
  }
  const ids = options.map((o) => o.id);
  const list = options.map((o) => `${o.id} (${o.label})`).join(', ');
  if (req.reject) return { ok: false, message: `"${question.stage}" offers options instead of approve/reject: choose one with --choice ID; its options are ${list}` };
  if (req.choice === undefined) return { ok: false, message: `"${question.stage}" offers options: choose one with --choice ID; its options are ${list}` };
  if (!ids.includes(req.choice)) return { ok: false, message: `"${question.stage}" has no option "${req.choice}"${didYouMean(req.choice, ids)}; its options are ${list}` };
  return { ok: true, choice: req.choice };
}

/** Why a stage that has no question waiting cannot be answered: unknown, answered, or just not waiting. */
function notWaiting(id: string, stage: string, stages: readonly StageFile[], waiting: readonly WaitingRecord[], answers: readonly AnswerRecord[]): string {
  const others = waiting.length ? `; waiting now: ${[...new Set(waiting.map((w) => w.stage))].join(', ')}` : '';
  const answered = answers.filter((a) => a.stage === stage).sort((a, b) => a.at.localeCompare(b.at)).at(-1);
  if (answered) return `${alreadyAnswered(id, { stage, kind: answered.kind, ...(answered.iteration === undefined ? {} : { iteration: answered.iteration }) }, answered)}${others}`;
  const files = stages.filter((s) => s.path === stage);
  if (files.length === 0) {
    const known = [...new Set([...stages.map((s) => s.path), ...waiting.map((w) => w.stage)])];
    return `run ${id} has no stage "${stage}" waiting, and none of that name has started${didYouMean(stage, known)}${others}`;
  }
  const last = files.reduce((a, b) => (compareIterations(b.iteration, a.iteration) >= 0 ? b : a));
  const ended = { running: 'it is still running', succeeded: 'it already succeeded', failed: 'it already failed', error: 'it ended in error', skipped: 'it was skipped', cancelled: 'it was cancelled' }[last.status];
  return `stage "${stage}" of run ${id} is not waiting for an answer: ${ended}${others}`;
}

function alreadyAnswered(id: string, q: Pick<WaitingRecord, 'stage' | 'kind' | 'iteration'>, a: AnswerRecord): string {
  const what = q.kind === 'budget' ? `the budget question of "${q.stage}"` : `"${q.stage}"`;
  return `${what}${iterationText(q)} of run ${id} was answered already: ${a.choice !== undefined ? `chose "${a.choice}"` : a.approved ? 'approved' : 'rejected'} by ${a.by ?? 'someone'} at ${a.at}${a.comment ? ` (${a.comment})` : ''}`;
}

function iterationText(q: { iteration?: Iteration | undefined }): string {
  return q.iteration === undefined ? '' : ` (${describeIteration(q.iteration)})`;
}
