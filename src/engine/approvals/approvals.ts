import type { Iteration } from '../../records/iteration.js';
import path from 'node:path';
import type { JsonValue, Scope, StageNode } from '../../config/pipeline.js';
import { nearest } from '../../config/suggest.js';
import {
  answerFile,
  questionKey,
  readAnswer,
  removeFile,
  watchAnswer,
  writeAnswer,
  writeAnswerOnce,
  writeWaiting,
  type AnswerRecord,
  type QuestionKind,
} from './approval-files.js';
import { approverName } from './approval-identity.js';
import type { ChoiceOption } from '../../records/events.js';

/**
 * Questions to humans (docs/configuration.md, approve, and 6, `on_exhausted: ask`): an approve stage,
 * or a budget that would be raised. One way of asking for both: an answer given in advance
 * (`apply --approve`), an answer already recorded (a resumed run), then waiting — with the
 * question announced (`approval_waiting`, with the exact `factory approve` command), the
 * answer file watched, the terminal prompt asked when there is one, the timeout and Ctrl-C —
 * whichever comes first. While it waits, the wall clocks of the budgets around it stand still.
 */

export interface ShownValue {
  /** The expression as written (without `${{ }}`), or a name. */
  label: string;
  value: JsonValue;
}

export interface ApprovalQuestion {
  stage: string;
  iteration?: Iteration;
  kind: QuestionKind;
  message: string;
  show: ShownValue[];
  /** The command that answers it from another shell. */
  command: string;
  /** An approve stage's choices, offered instead of approve/reject. */
  options?: ChoiceOption[];
  /** How long it waits; undefined: no limit. */
  timeoutMs?: number;
}

export interface HumanAnswer {
  approved: boolean;
  /** The option chosen, when the question offered options. */
  choice?: string;
  comment: string | null;
}

/** Asks on the terminal (src/ui); resolves undefined when `signal` aborts first. */
export interface ApprovalPrompt {
  ask(question: ApprovalQuestion, signal: AbortSignal): Promise<HumanAnswer | undefined>;
}

/** `unreadable`: the answer file there is not an answer (edited, damaged): refused, its error says why. */
export type Decision = { status: 'answered'; answer: AnswerRecord } | { status: 'timeout'; afterMs: number } | { status: 'cancelled' } | { status: 'unreadable'; error: string };

export interface AskInput {
  kind: QuestionKind;
  message: string;
  show: ShownValue[];
  /** Choices offered instead of approve/reject, and the one `apply --approve` takes. */
  options?: ChoiceOption[] | undefined;
  defaultChoice?: string | undefined;
  timeoutMs?: number | undefined;
  /** For a budget question: its number within the stage (1, 2, ...). */
  budgetQuestion?: number;
  /** Take an answer already recorded for this question (an approve stage of a resumed run). */
  reuse: boolean;
  /** Stops the wall clocks of the budgets around the question; returns what restarts them. */
  pause?: () => () => void;
}

/** The questions of one stage (an attempt's StageContext.approvals). */
export interface StageApprovals {
  /** A human can be asked on this terminal (budget questions then wait without a limit by default). */
  readonly interactive: boolean;
  ask(input: AskInput, signal: AbortSignal): Promise<Decision>;
}

export interface ApprovalsOptions {
  runId: string;
  /** `.factory/runs/<run>`. */
  runDir: string;
  /** The directory holding `.factory`. */
  workspace: string;
  /** Where `apply` was started: the printed command adds `--dir` when the workspace is elsewhere. */
  cwd: string;
  /** Stage paths approved in advance (`apply --approve`). */
  advance?: ReadonlySet<string>;
  /** The terminal prompt, when the run has one. */
  prompt?: ApprovalPrompt | undefined;
  env: Readonly<NodeJS.ProcessEnv>;
  emit(event: { type: 'approval_waiting'; stage: string; iteration?: Iteration; message: string; command: string; show: ShownValue[]; options?: ChoiceOption[] }): void;
  /** Stops the wall clocks of the scopes around a stage (an approve stage's loop and the run). */
  pauseAround?(stagePath: string): () => void;
}

/** The longest a Node timer can wait; longer timeouts wait in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export class Approvals {
  #identity: string | undefined;

  constructor(private readonly options: ApprovalsOptions) {}

  get interactive(): boolean {
    return this.options.prompt !== undefined;
  }

  /** `factory approve RUN STAGE` (`--choice ID` when it offers options), with `--dir` when apply ran from another directory. */
  command(stage: string, choices = false): string {
    const rel = path.relative(this.options.cwd, this.options.workspace);
    return `factory approve ${this.options.runId} ${stage}${choices ? ' --choice ID' : ''}${rel === '' ? '' : ` --dir ${shellWord(rel)}`}`;
  }

  /** Who answers on this terminal or in advance. */
  identity(): string {
    this.#identity ??= approverName(this.options.workspace, this.options.env);
    return this.#identity;
  }

  forStage(stage: string, iteration: Iteration | undefined): StageApprovals {
    return {
      interactive: this.interactive,
      ask: (input, signal) => this.ask(stage, iteration, { ...input, pause: input.pause ?? (() => this.options.pauseAround?.(stage) ?? (() => undefined)) }, signal),
    };
  }

  async ask(stage: string, iteration: Iteration | undefined, input: AskInput, signal: AbortSignal): Promise<Decision> {
    const key = questionKey(stage, iteration, input.budgetQuestion);
    const file = answerFile(this.options.runDir, key);
    const base = { version: 1 as const, stage, ...(iteration === undefined ? {} : { iteration }), kind: input.kind };
    if (input.kind === 'approve' && this.options.advance?.has(stage)) {
      const choice = input.defaultChoice === undefined ? {} : { choice: input.defaultChoice };
      const answer: AnswerRecord = { ...base, approved: true, ...choice, comment: null, by: this.identity(), at: new Date().toISOString(), via: 'advance' };
      writeAnswer(file, answer);
      return { status: 'answered', answer };
    }
    if (input.reuse) {
      const prior = readAnswer(file);
      if (!prior.ok) return { status: 'unreadable', error: prior.error };
      if (prior.answer) return { status: 'answered', answer: prior.answer };
    } else {
      removeFile(file);
    }
    if (signal.aborted) return { status: 'cancelled' };

    const options = input.options === undefined ? {} : { options: input.options };
    const command = this.command(stage, input.options !== undefined);
    const question: ApprovalQuestion = { stage, ...(iteration === undefined ? {} : { iteration }), kind: input.kind, message: input.message, show: input.show, command, ...options };
    if (input.timeoutMs !== undefined) question.timeoutMs = input.timeoutMs;
    const waiting = writeWaiting(this.options.runDir, { stage, ...(iteration === undefined ? {} : { iteration }), kind: input.kind, key, message: input.message, command, ...options });
    const restart = input.pause?.();
    this.options.emit({ type: 'approval_waiting', stage, ...(iteration === undefined ? {} : { iteration }), message: input.message, command, show: input.show, ...options });
    try {
      return await this.#wait(question, file, waiting, input.timeoutMs, signal, base);
    } finally {
      removeFile(waiting);
      restart?.();
    }
  }

  /** The first of: the answer file, the terminal, the timeout, Ctrl-C. */
  #wait(question: ApprovalQuestion, file: string, waiting: string, timeoutMs: number | undefined, signal: AbortSignal, base: Pick<AnswerRecord, 'version' | 'stage' | 'iteration' | 'kind'>): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      const cleanups: (() => void)[] = [];
      const promptAbort = new AbortController();
      let settled = false as boolean; // set by the callbacks: `as boolean` stops TypeScript narrowing it to false
      const settle = (decision: Decision) => {
        if (settled) return;
        settled = true;
        for (const c of cleanups) c();
        promptAbort.abort();
        resolve(decision);
      };
      cleanups.push(watchAnswer(file, (read) => settle(read.ok ? { status: 'answered', answer: read.answer } : { status: 'unreadable', error: read.error })));
      if (timeoutMs !== undefined) {
        const deadline = Date.now() + timeoutMs;
        let timer: NodeJS.Timeout;
        const arm = () => {
          const left = deadline - Date.now();
          if (left > 0) {
            timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
            return;
          }
          // No new answer is accepted from here on; one that landed just now still counts.
          removeFile(waiting);
          const late = readAnswer(file);
          if (!late.ok) settle({ status: 'unreadable', error: late.error });
          else settle(late.answer ? { status: 'answered', answer: late.answer } : { status: 'timeout', afterMs: timeoutMs });
        };
        timer = setTimeout(arm, Math.min(timeoutMs, MAX_TIMER_MS));
        cleanups.push(() => clearTimeout(timer));
      }
      const onAbort = () => settle({ status: 'cancelled' });
      signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', onAbort));
      if (signal.aborted) onAbort();
      const prompt = this.options.prompt;
      if (prompt && !settled) {
        prompt.ask(question, promptAbort.signal).then(
          (human) => {
            if (!human || settled) return;
            const choice = human.choice === undefined ? {} : { choice: human.choice };
            const answer: AnswerRecord = { ...base, approved: human.approved, ...choice, comment: human.comment, by: this.identity(), at: new Date().toISOString(), via: 'prompt' };
            // The first answer wins, wherever it came from.
            const written = writeAnswerOnce(file, answer);
            settle({ status: 'answered', answer: !written.ok && written.existing ? written.existing : answer });
          },
          () => undefined,
        );
      }
    });
  }
}

/**
 * `--approve ID[,ID]`: each names an approve stage by its dotted path, or by its id when only
 * one approve stage has it. Returns the paths, or a message naming what is wrong.
 */
export function resolveApproveIds(root: Scope, ids: readonly string[]): { ok: true; paths: string[] } | { ok: false; message: string } {
  const all: StageNode[] = [];
  const walk = (scope: Scope) => {
    for (const node of scope.stages) {
      all.push(node);
      if (node.body) walk(node.body);
    }
  };
  walk(root);
  const approves = all.filter((n) => n.kind === 'approve');
  const paths: string[] = [];
  const problems: string[] = [];
  for (const id of ids) {
    const byPath = all.find((n) => n.path === id);
    const byId = all.filter((n) => n.id === id);
    const node = byPath ?? (byId.length === 1 ? byId[0] : undefined);
    if (!node && byId.length > 1) {
      problems.push(`--approve: "${id}" names several stages (${byId.map((n) => n.path).join(', ')}); give the dotted path of one`);
      continue;
    }
    if (!node) {
      const near = nearest(id, approves.map((n) => n.path));
      problems.push(`--approve: there is no stage "${id}"${near ? ` (did you mean "${near}"?)` : ''}${approves.length ? `; the approve stages are ${approves.map((n) => n.path).join(', ')}` : '; the pipeline has no approve stage'}`);
      continue;
    }
    if (node.kind !== 'approve') {
      problems.push(`--approve: stage "${node.path}" is a ${node.kind} stage; --approve answers approve stages${approves.length ? ` (${approves.map((n) => n.path).join(', ')})` : ''}`);
      continue;
    }
    const def = node.def as { options?: unknown[]; default?: string };
    if (def.options !== undefined && def.default === undefined) {
      problems.push(`--approve: stage "${node.path}" offers choices and has no \`default\`; choose with \`factory approve RUN ${node.path} --choice ID\` while it waits, or give it \`default: ID\``);
      continue;
    }
    paths.push(node.path);
  }
  return problems.length ? { ok: false, message: problems.join('\n') } : { ok: true, paths };
}

/** A word the shell reads as written. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
