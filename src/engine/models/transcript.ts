import { appendFile } from 'node:fs/promises';
import { type CallKey, type ModelRequest } from '../../providers/types.js';
import { writeFileAtomicAsync } from '../../records/atomic.js';

/**
 * `stages/<path>[@iteration].transcript.jsonl`: one JSON object a line, appended in order —
 * each request (an agent's later requests only with the messages added since the previous
 * one), each response, tool calls and results, retries and errors — and
 * `stages/<path>[@iteration].prompt.md` (`@2.1` in nested loops: records/paths.ts stageBase, so no
 * outer iteration overwrites another's). Secrets are redacted before anything is written.
 */
export class TranscriptWriter {
  #chain: Promise<void> = Promise.resolve();
  /** Lines waiting for the write in flight: appended together, one write for many entries. */
  #pending: string[] = [];
  #draining: Promise<void> | undefined;
  #lastMessages: unknown[] | undefined;
  #lastCall = 0;

  constructor(
    readonly base: string,
    readonly redact: <T>(v: T) => T,
    readonly redactText: (t: string) => string,
  ) {}

  /** Written before the first entry (a stage that calls no model leaves no transcript). */
  header: Record<string, unknown> | undefined;

  add(entry: Record<string, unknown>): void {
    let line = `${JSON.stringify(this.redact(entry))}\n`;
    if (this.header) {
      line = `${JSON.stringify(this.header)}\n${line}`;
      this.header = undefined;
    }
    this.#pending.push(line);
    this.#draining ??= this.#drain();
  }

  async #drain(): Promise<void> {
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const text = this.#pending.join('');
      this.#pending = [];
      await appendFile(`${this.base}.transcript.jsonl`, text).catch(() => undefined);
    }
    this.#draining = undefined;
  }

  request(call: number, key: CallKey, request: ModelRequest): void {
    const messages = request.messages as unknown[];
    const prev = this.#lastMessages;
    const continues = prev !== undefined && prev.length < messages.length && prev.every((m, i) => m === messages[i] || JSON.stringify(m) === JSON.stringify(messages[i]));
    this.#lastMessages = [...messages];
    if (continues) {
      const { messages: _all, system: _system, tools: _tools, ...rest } = request;
      this.add({ type: 'request', call, key, continues: this.#lastCall, request: { ...rest, messages_from: prev.length, messages: messages.slice(prev.length) } });
    } else {
      this.add({ type: 'request', call, key, request });
    }
    this.#lastCall = call;
  }

  prompt(text: string): void {
    const clean = this.redactText(text);
    this.#chain = this.#chain.then(async () => void (await writeFileAtomicAsync(`${this.base}.prompt.md`, clean)));
  }

  async flush(): Promise<void> {
    await this.#draining;
    await this.#chain;
  }
}
