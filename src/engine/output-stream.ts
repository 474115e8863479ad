import type { StageNode } from '../config/pipeline.js';
import type { LogWriter } from '../records/logs.js';
import { checkRecord, emit, type RunState } from './state.js';

/** Largest `chunk` of one stage_output event, and the most text one stage sends as events. */
const EVENT_CHUNK_CHARS = 8 * 1024;
const EVENT_TOTAL_CHARS = 1024 * 1024;

/**
 * One stream of one stage attempt: every byte to the record's log file, and text (lossy UTF-8,
 * split characters kept whole across chunks) to `stage_output` events, capped.
 */
export class OutputStream {
  private readonly log: LogWriter;
  private readonly decoder = new TextDecoder('utf-8');
  private sent = 0;

  constructor(
    private readonly state: RunState,
    private readonly node: StageNode,
    private readonly stream: 'stdout' | 'stderr',
    private readonly iteration: number | undefined,
  ) {
    this.log = state.store.log(node.path, stream, iteration);
  }

  write(chunk: Uint8Array): void {
    this.log.write(chunk);
    if (this.sent >= EVENT_TOTAL_CHARS) return;
    let text = this.decoder.decode(chunk, { stream: true });
    if (text === '') return;
    if (this.sent + text.length > EVENT_TOTAL_CHARS) text = `${text.slice(0, EVENT_TOTAL_CHARS - this.sent)}\n[further output is only in ${this.log.file}]\n`;
    this.sent += text.length;
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
