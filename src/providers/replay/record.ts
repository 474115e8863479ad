import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { displayPath } from '../../config/load/load.js';
import { writeFileAtomic } from '../../records/atomic.js';
import { answers, cassetteText, readCassette, sortCalls, type CassetteCall } from './cassette.js';
import { redactJson } from '../redact.js';
import type { CallKey, CallOptions, CallResult, ModelRequest, Provider, ProviderError, VendorAnswer } from '../types.js';

export interface RecorderOptions {
  /** Secrets in these variables (and anything shaped like an Anthropic key) are written as [redacted]. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Start from the calls already in the file (a resumed run records only what it reruns). Default: start empty. */
  keep?: boolean;
  cwd?: string;
}

/**
 * One cassette being recorded (`--record FILE`), shared by every provider that records into
 * it. After each call the whole cassette is written again, atomically (temp file + rename), so
 * a run killed at any moment leaves a valid cassette. Only the request body and the response
 * are stored: no header, so no key.
 */
export class CassetteRecorder {
  readonly file: string;
  readonly #absPath: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  #calls: CassetteCall[] = [];

  constructor(absPath: string, options: RecorderOptions = {}) {
    this.#absPath = absPath;
    this.file = displayPath(absPath, options.cwd);
    this.#env = options.env ?? {};
    if (options.keep) {
      const read = readCassette(absPath, options.cwd);
      if (read.ok) this.#calls = [...read.cassette.calls];
    }
  }

  get calls(): readonly CassetteCall[] {
    return this.#calls;
  }

  /** The folder exists and can be written, checked before any stage. */
  check(): ProviderError | undefined {
    const dir = path.dirname(this.#absPath);
    try {
      accessSync(dir, constants.W_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { kind: 'cassette', message: `cannot record to ${this.file}: ${code === 'ENOENT' ? 'its folder does not exist' : `the folder is not writable (${code ?? 'error'})`}` };
    }
  }

  /**
   * Adds (or replaces, for a call made again) one call and writes the cassette, naming the
   * provider that answered: `vendor` is the answer as another vendor's API returned it, recorded
   * as such with its `provider` and `api`; without it the response is a Messages API Message.
   */
  add(key: CallKey, request: ModelRequest, response: unknown, vendor?: VendorAnswer): { ok: true } | { ok: false; error: ProviderError } {
    const entry = redactJson(
      {
        stage: key.stage,
        iteration: key.iteration,
        call: key.call,
        ...(key.scenario !== undefined ? { scenario: key.scenario } : {}),
        ...(key.run !== undefined ? { run: key.run } : {}),
        ...(vendor ? { provider: vendor.provider, api: vendor.api } : { provider: 'anthropic' as const }),
        request: request as unknown as Record<string, unknown>,
        response: (vendor ? vendor.response : response) as CassetteCall['response'],
      },
      this.#env,
    );
    this.#calls = sortCalls([...this.#calls.filter((c) => !answers(c, key)), entry]);
    const written = writeFileAtomic(this.#absPath, cassetteText({ version: 1, calls: this.#calls }));
    return written.ok ? { ok: true } : { ok: false, error: { kind: 'cassette', message: `cannot write the cassette: ${written.error}` } };
  }
}

/** Wraps any provider and records each answered call into a cassette. */
export class RecordingProvider implements Provider {
  readonly #inner: Provider;
  readonly #recorder: CassetteRecorder;

  constructor(inner: Provider, recorder: CassetteRecorder) {
    this.#inner = inner;
    this.#recorder = recorder;
  }

  get name(): Provider['name'] {
    return this.#inner.name;
  }

  async call(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    const result = await this.#inner.call(request, options);
    if (!result.ok) return result;
    const saved = this.#recorder.add(options.key, request, result.message, result.vendor);
    return saved.ok ? result : { ok: false, error: saved.error };
  }

  /** Not recorded: a replayed run reserves from its estimate. */
  async countTokens(request: ModelRequest, signal: AbortSignal): Promise<number | undefined> {
    return this.#inner.countTokens?.(request, signal);
  }

  async preflight(models: readonly string[], signal: AbortSignal): Promise<ProviderError[]> {
    const problems = await this.#inner.preflight(models, signal);
    const unwritable = this.#recorder.check();
    return unwritable ? [...problems, unwritable] : problems;
  }
}
