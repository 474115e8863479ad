import type { ApprovalPrompt, ApprovalQuestion, HumanAnswer } from '../engine/approvals/approvals.js';
import { optionLines, shownLines } from './approval-text.js';

/**
 * The approval prompt on a terminal, drawn inside the live progress: the waiting stage's lines
 * in the stage tree show the question, the `show` values and the keys — `a` approve, `r`
 * reject (or `1`-`9` for a stage that offers options), `c` write a comment (Enter keeps it, Esc drops it). Keys are read in raw mode, so
 * Ctrl-C arrives as a byte: it is passed on as SIGINT and cancels the run as anywhere else.
 * One question at a time; others wait their turn (and can still be answered from another shell).
 */

/** Where the prompt is drawn (the TTY renderer). */
export interface PromptSurface {
  showPrompt(stage: string, lines: string[] | undefined): void;
}

export type TtyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown; isRaw?: boolean };

export class TerminalApprovalPrompt implements ApprovalPrompt {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly input: TtyInput,
    private readonly surface: PromptSurface,
    private readonly interrupt: () => void = () => void process.kill(process.pid, 'SIGINT'),
  ) {}

  ask(question: ApprovalQuestion, signal: AbortSignal): Promise<HumanAnswer | undefined> {
    const turn = this.#queue.then(() => this.#askNow(question, signal));
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  #askNow(q: ApprovalQuestion, signal: AbortSignal): Promise<HumanAnswer | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    const input = this.input;
    return new Promise((resolve) => {
      let mode: 'choose' | 'comment' = 'choose';
      let comment: string | null = null;
      let draft = '';
      const draw = () => this.surface.showPrompt(q.stage, promptLines(q, mode, comment, draft));
      const cooked = () => {
        try {
          input.setRawMode?.(false);
        } catch {
          // the terminal is gone
        }
      };
      const finish = (answer: HumanAnswer | undefined) => {
        input.removeListener('data', onData);
        signal.removeEventListener('abort', onAbort);
        process.removeListener('exit', cooked);
        cooked();
        input.pause();
        this.surface.showPrompt(q.stage, undefined);
        resolve(answer);
      };
      const onAbort = () => finish(undefined);
      const onData = (chunk: Buffer | string) => {
        const text = chunk.toString();
        // Escape alone leaves the comment; a longer escape sequence (an arrow key) is ignored.
        if (text.startsWith('\x1b')) {
          if (text === '\x1b' && mode === 'comment') {
            mode = 'choose';
            draw();
          }
          return;
        }
        for (const ch of text) {
          if (ch === '\x03') {
            this.interrupt();
            return;
          }
          if (mode === 'choose') {
            const key = ch.toLowerCase();
            if (q.options) {
              const picked = /^[1-9]$/.test(key) ? q.options[Number(key) - 1] : undefined;
              if (picked) return finish({ approved: true, choice: picked.id, comment });
            } else {
              if (key === 'a' || key === 'y') return finish({ approved: true, comment });
              if (key === 'r' || key === 'n') return finish({ approved: false, comment });
            }
            if (key === 'c') {
              mode = 'comment';
              draft = comment ?? '';
            }
            continue;
          }
          if (ch === '\r' || ch === '\n') {
            comment = draft.trim() === '' ? null : draft.trim();
            mode = 'choose';
          } else if (ch === '\x7f' || ch === '\b') {
            draft = Array.from(draft).slice(0, -1).join('');
          } else if (ch >= ' ') {
            draft += ch;
          }
        }
        draw();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A second Ctrl-C exits at once: the terminal must not stay in raw mode.
      process.once('exit', cooked);
      try {
        input.setRawMode?.(true);
      } catch {
        // not a terminal after all: keys still arrive line by line
      }
      input.on('data', onData);
      input.resume();
      draw();
    });
  }
}

/** What the waiting stage shows while it asks. */
export function promptLines(q: ApprovalQuestion, mode: 'choose' | 'comment', comment: string | null, draft: string): string[] {
  const head = q.kind === 'budget' ? `? budget: ${q.message}` : `? ${q.message}`;
  const lines = [head, ...shownLines(q.show).map((l) => `  ${l}`)];
  if (mode === 'comment') {
    lines.push(`  comment › ${draft}▏ (Enter keeps it, Esc drops it)`);
    return lines;
  }
  if (comment !== null) lines.push(`  comment: ${comment}`);
  const commentKey = `[c] ${comment === null ? 'comment' : 'edit the comment'}`;
  if (q.options) {
    lines.push(...optionLines(q.options).map((l) => `  ${l}`));
    lines.push(`  [1-${q.options.length}] choose  ${commentKey}   (or from another shell: ${q.command})`);
    return lines;
  }
  lines.push(`  [a] approve  [r] reject  ${commentKey}   (or from another shell: ${q.command})`);
  return lines;
}
