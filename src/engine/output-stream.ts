import type { Iteration } from '../records/iteration.js';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { StageNode } from '../config/pipeline.js';
import { LogWriter } from '../records/logs.js';
import { checkRecord, emit, type RunState } from './state.js';

/** Largest `chunk` of one stage_output event, and the most text one stage sends as events. */
const EVENT_CHUNK_CHARS = 8 * 1024;
const EVENT_TOTAL_CHARS = 1024 * 1024;

/** A retried attempt: which one, and how the one before it ended (for the log and the events). */
export interface RetryMark {
  attempt: number;
  /** The most attempts the stage gets. */
  of: number;
  /** How the previous attempt ended, in words (`timed out after 5s`). */
  previous: string;
}

/**
 * One stream of one stage attempt: every byte to the record's log file, and text (lossy UTF-8,
 * split characters kept whole across chunks) to `stage_output` events, capped.
 *
 * Attempts are kept apart. The log keeps every attempt's output, a retried attempt's after a
 * line `--- attempt N of M (attempt N-1: how it ended) ---` (the first attempt truncates it, so
 * a resumed run starts afresh); a stage's outputs (`stdout` of a command, `text` of a plan) hold
 * its last attempt's alone, since executors capture per attempt. Before a retry, a partial line
 * of the events is ended (`endLine`), so the next attempt's text is never glued to it.
 */
export class OutputStream {
  private readonly log: LogWriter;
  private readonly decoder = new TextDecoder('utf-8');
  private sent = 0;
  private lastChar = '';

  constructor(
    private readonly state: RunState,
    private readonly node: StageNode,
    private readonly stream: 'stdout' | 'stderr',
    private readonly iteration: Iteration | undefined,
    retry?: RetryMark,
  ) {
    if (!retry) {
      this.log = state.store.log(node.path, stream, iteration);
      return;
    }
    const file = state.store.logPath(node.path, stream, iteration);
    this.log = new LogWriter(file, true);
    const last = lastByte(file);
    if (last !== undefined) {
      this.log.write(Buffer.from(`${last === 0x0a ? '' : '\n'}--- attempt ${retry.attempt} of ${retry.of} (attempt ${retry.attempt - 1}: ${retry.previous}) ---\n`));
    }
  }

  /** Ends a partial line of the events (before a retry, so the next attempt's text starts on its own line). */
  endLine(): void {
    if (this.lastChar !== '' && this.lastChar !== '\n') this.send('\n');
  }

  write(chunk: Uint8Array): void {
    this.log.write(chunk);
    if (this.sent >= EVENT_TOTAL_CHARS) return;
    let text = this.decoder.decode(chunk, { stream: true });
    if (text === '') return;
    if (this.sent + text.length > EVENT_TOTAL_CHARS) text = `${text.slice(0, EVENT_TOTAL_CHARS - this.sent)}\n[further output is only in ${this.log.file}]\n`;
    this.sent += text.length;
    this.send(text);
  }

  private send(text: string): void {
    this.lastChar = text.at(-1) ?? this.lastChar;
    for (let i = 0; i < text.length; i += EVENT_CHUNK_CHARS) {
      emit(this.state, {
        type: 'stage_output',
        stage: this.node.path,
        ...(this.iteration === undefined ? {} : { iteration: this.iteration }),
        stream: this.stream,
        chunk: text.slice(i, i + EVENT_CHUNK_CHARS),
      });
    }
  }

  close(): void {
    this.log.close();
    if (this.log.error && !this.state.stopping?.record) {
      this.state.stopping = { path: '', message: `the run record cannot be written: ${this.log.error}`, record: true };
    }
    checkRecord(this.state);
  }
}

/** The last byte of a file, or undefined when it is missing or empty. */
function lastByte(file: string): number | undefined {
  try {
    const size = statSync(file).size;
    if (size === 0) return undefined;
    const fd = openSync(file, 'r');
    try {
      const one = Buffer.alloc(1);
      readSync(fd, one, 0, 1, size - 1);
      return one[0];
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
