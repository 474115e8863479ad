import { createHash } from 'node:crypto';
import { iterationKey } from '../../records/iteration.js';
import type { CallKey, ModelRequest, ModelResponse } from '../../providers/types.js';

/** A call's key as one string: stage, iteration, call (or a judge's scenario and run). */
export function callKeyText(key: CallKey): string {
  // A number iteration keeps the key earlier journals wrote (`@0`, `@2`); a chain is `@2.1`.
  const at = typeof key.iteration === 'number' ? String(key.iteration) : iterationKey(key.iteration);
  return key.scenario === undefined ? `${key.stage}@${at}#${key.call}` : `${key.stage}@${at}#${key.scenario}\u0000${key.run ?? 1}#${key.call}`;
}

/**
 * The request as the model sees it, without `max_tokens` (which the budget may cap differently
 * from one run to the next): an answer is reused only for the same question.
 */
export function requestHash(request: ModelRequest): string {
  const { max_tokens: _cap, ...rest } = request;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/**
 * Answers a killed run received and paid for (journaled as `model_answer`): `--resume` takes each
 * once, for the call with the same key and the same request, instead of paying for it again
 * (docs/models-and-budgets.md). A request that differs (the workspace moved on) is asked anew.
 */
export class RecordedAnswers {
  readonly #byKey = new Map<string, { hash: string; message: ModelResponse }[]>();

  add(key: string, hash: string, message: ModelResponse): void {
    const list = this.#byKey.get(key) ?? [];
    list.push({ hash, message });
    this.#byKey.set(key, list);
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** The recorded answer to this call, once; a cut-off answer is never reused. */
  take(key: string, hash: string): ModelResponse | undefined {
    const list = this.#byKey.get(key);
    const i = list?.findIndex((a) => a.hash === hash && a.message.stop_reason !== 'max_tokens') ?? -1;
    if (!list || i < 0) return undefined;
    const [found] = list.splice(i, 1);
    return found?.message;
  }
}
