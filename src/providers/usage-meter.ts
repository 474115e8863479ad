import type { Usage } from '../base/usage.js';

const FIELDS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

/**
 * The usage of one attempt, reported to `CallOptions.onUsage` as increments: each report gives
 * the attempt's running total as the API states it, and only what it adds to the totals already
 * reported goes out. An attempt's increments therefore sum to its last total, whatever order
 * `message_start`, the end, or a failure arrive in.
 */
export class UsageMeter {
  readonly #onUsage: ((increment: Usage) => void) | undefined;
  readonly #reported: Usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  #any = false;

  constructor(onUsage: ((increment: Usage) => void) | undefined) {
    this.#onUsage = onUsage;
  }

  /** Whether the attempt has reported any usage (its `message_start` came). */
  get started(): boolean {
    return this.#any;
  }

  get reported(): Readonly<Usage> {
    return this.#reported;
  }

  /** Reports a running total; sends what it adds, if anything. */
  report(total: Usage): void {
    this.#any = true;
    const increment = { ...this.#reported };
    let grew = false;
    for (const f of FIELDS) {
      const add = Math.max(0, total[f] - this.#reported[f]);
      increment[f] = add;
      if (add > 0) {
        grew = true;
        this.#reported[f] += add;
      }
    }
    if (grew) this.#onUsage?.(increment);
  }
}

/**
 * Output tokens of an answer cut short, from the UTF-8 bytes it streamed: the API never says how
 * many it billed. Bytes ÷ 3 is about one token per CJK character and an over-estimate for English
 * (about 4 bytes a token), so a budget is never under-charged; never more than `maxTokens`.
 */
export function estimateOutputTokens(bytes: number, maxTokens: number): number {
  return Math.min(maxTokens, Math.ceil(bytes / 3));
}
