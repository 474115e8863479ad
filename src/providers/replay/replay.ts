import { withoutInstances } from '../../config/fanout.js';
import { describeKey, findCall, readCassette, recordedStages, type Cassette } from './cassette.js';
import { firstDifference } from './json-diff.js';
import { messageOfVendor } from '../openai/vendor-message.js';
import type { CassetteCall } from './cassette.js';
import { usageOf, type CallOptions, type CallResult, type ModelRequest, type ModelResponse, type Provider, type ProviderError } from '../types.js';

export interface ReplaySettings {
  /** Absolute path of the cassette. */
  cassette: string;
  /** Also require each request to equal the recorded one. */
  strict: boolean;
  /** For the file names in messages. */
  cwd?: string;
}

const shown = (value: unknown) => {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/**
 * Answers model calls from a cassette (docs/models-and-budgets.md and docs/running.md), matched by stage path,
 * iteration and call number (a judge's by scenario and run). The recorded response carries the
 * recorded usage, so budgets are charged as they were live. The cassette is read once.
 */
export class ReplayProvider implements Provider {
  readonly name = 'replay';
  readonly #settings: ReplaySettings;
  #loaded: { ok: true; cassette: Cassette; file: string } | { ok: false; errors: ProviderError[] } | undefined;

  constructor(settings: ReplaySettings) {
    this.#settings = settings;
  }

  async call(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    if (options.signal.aborted) return { ok: false, error: { kind: 'aborted', message: 'the model call was cancelled' } };
    const loaded = this.#load();
    if (!loaded.ok) return { ok: false, error: loaded.errors[0]! };
    const { key } = options;
    const entry = findCall(loaded.cassette, key);
    if (!entry) {
      // A stage the cassette never heard of: say which stages it has, so a cassette of another pipeline shows as one.
      const recorded = recordedStages(loaded.cassette);
      const none = recorded.includes(key.stage) ? '' : ` (it has no call of this stage at all; it records ${recorded.length ? recorded.join(', ') : 'no calls'})`;
      return {
        ok: false,
        error: { kind: 'cassette', message: `${loaded.file} has no recorded answer for ${describeKey(key)}${none}: record it ${recordAdvice(loaded.cassette, loaded.file)}` },
      };
    }
    if (this.#settings.strict && entry.request !== undefined) {
      const diff = firstDifference(entry.request, request);
      if (diff) {
        return {
          ok: false,
          error: {
            kind: 'cassette',
            message: `the request for ${describeKey(key)} differs from the one recorded in ${loaded.file} at ${diff.path}: recorded ${shown(diff.expected)}, sent ${shown(diff.actual)} (record again, or turn off providers.replay.strict)`,
          },
        };
      }
    }
    const mapped = messageOf(entry);
    if (!mapped.ok) return { ok: false, error: { kind: 'cassette', message: `${loaded.file}: the recorded answer for ${describeKey(key)} cannot be read: ${mapped.why}` } };
    const message = mapped.message;
    // Charged as recorded, once, as a live call's increments would sum to.
    options.onUsage?.(usageOf(message));
    if (options.onText) {
      for (const block of message.content) if (block.type === 'text') options.onText(block.text);
    }
    // An OpenAI answer goes on as one, so a run recorded from a replay keeps it as it was.
    if (entry.provider === 'openai') return { ok: true, message, vendor: { provider: 'openai', api: entry.api ?? 'responses', response: structuredClone(entry.response) } };
    return { ok: true, message };
  }

  /**
   * The cassette exists and matches schemas/cassette.schema.json (each problem with its line and
   * column), and was recorded for this pipeline: when none of the model stages that will call it
   * is among the cassette's stages, it is another pipeline's, and replaying it would write that
   * project's files here.
   */
  async preflight(_models: readonly string[], _signal: AbortSignal, stages?: readonly string[]): Promise<ProviderError[]> {
    const loaded = this.#load();
    if (!loaded.ok) return loaded.errors;
    const recorded = recordedStages(loaded.cassette);
    // A fan-out instance's calls carry its path (`attempt[2].generate`); the stage is `attempt.generate`.
    const written = new Set(recorded.map(withoutInstances));
    if (!stages?.length || recorded.length === 0 || stages.some((s) => written.has(s))) return [];
    const list = (paths: readonly string[]) => (paths.length > 6 ? `${paths.slice(0, 6).join(', ')}, …` : paths.join(', '));
    return [{
      kind: 'cassette',
      message: `the cassette ${loaded.file} looks recorded for another pipeline: it records the stages ${list(recorded)}, and none of them is a model stage here (${list(stages)}); replay a cassette recorded for this pipeline, or record one ${recordAdvice(loaded.cassette, loaded.file)}`,
    }];
  }

  #load() {
    if (this.#loaded) return this.#loaded;
    const read = readCassette(this.#settings.cassette, this.#settings.cwd);
    this.#loaded = read.ok
      ? { ok: true, cassette: read.cassette, file: read.file }
      : {
          ok: false,
          errors: read.diagnostics.map((d): ProviderError => ({
            kind: 'cassette',
            // A message without a position names the file itself.
            message: `${d.line > 0 ? `${d.file}:${d.line}:${d.column} ` : ''}${d.message}${d.hint ? ` (${d.hint})` : ''}`,
            diagnostic: d,
          })),
        };
    return this.#loaded;
  }
}

/**
 * A recorded response as the Message the engine reads: an anthropic call's is one already (a
 * call without `provider` is anthropic's); an openai call's is mapped as it was live.
 */
function messageOf(entry: CassetteCall): { ok: true; message: ModelResponse } | { ok: false; why: string } {
  if (entry.provider !== 'openai') return { ok: true, message: structuredClone(entry.response) as unknown as ModelResponse };
  try {
    return { ok: true, message: messageOfVendor({ api: entry.api ?? 'responses', response: structuredClone(entry.response) }) };
  } catch (error) {
    return { ok: false, why: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * How to record the missing answers: with the one provider the cassette's calls came from
 * (`provider` absent: anthropic, as cassettes were before it was written), or, for a cassette of
 * several vendors, live with each stage's own provider, since --provider would send every stage
 * to one of them.
 */
function recordAdvice(cassette: Cassette, file: string): string {
  const vendors = new Set(cassette.calls.map((c) => c.provider ?? 'anthropic'));
  if (vendors.size > 1) return `live, each stage with its own provider (${[...vendors].sort().join(' and ')}: no --provider, and no provider: replay in factory.yaml), with --record ${file}`;
  return `with --provider ${[...vendors][0] ?? 'anthropic'} --record ${file}`;
}
