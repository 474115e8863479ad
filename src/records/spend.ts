import { addUsage } from '../base/usage.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';
import { isIteration, type Iteration } from './iteration.js';

/**
 * What a run spent, folded from its journal's events (docs/models-and-budgets.md and docs/cache-and-watch.md): every `model_call`
 * counts whatever the stage's status, and a call that never reached its `model_call` (the run was
 * killed mid-call) counts by the `model_usage` increments journaled as the provider reported
 * them. Answers received (`model_answer`) come back for `--resume` to reuse.
 */
export interface SpendEntry {
  stage: string;
  iteration?: Iteration;
  usage: Usage;
  cost_usd: number;
}

export interface RecordedAnswer {
  key: string;
  request_hash: string;
  message: unknown;
}

export interface PriorSpend {
  entries: SpendEntry[];
  answers: RecordedAnswer[];
}

interface SpendEvent {
  type?: unknown;
  stage?: unknown;
  iteration?: unknown;
  usage?: unknown;
  cost_usd?: unknown;
  call_id?: unknown;
  key?: unknown;
  request_hash?: unknown;
  message?: unknown;
}

export function foldSpend(events: Iterable<SpendEvent>): PriorSpend {
  const finished = new Set<string>();
  const list = [...events];
  for (const e of list) if (e.type === 'model_call' && typeof e.call_id === 'string') finished.add(e.call_id);
  const entries: SpendEntry[] = [];
  const answers: RecordedAnswer[] = [];
  for (const e of list) {
    if (typeof e.stage !== 'string') continue;
    const counted = e.type === 'model_call' || (e.type === 'model_usage' && typeof e.call_id === 'string' && !finished.has(e.call_id));
    if (counted) {
      entries.push({ stage: e.stage, ...(isIteration(e.iteration) ? { iteration: e.iteration } : {}), usage: usageOf(e.usage), cost_usd: typeof e.cost_usd === 'number' ? e.cost_usd : 0 });
    } else if (e.type === 'model_answer' && typeof e.key === 'string' && typeof e.request_hash === 'string' && e.message !== null && typeof e.message === 'object') {
      answers.push({ key: e.key, request_hash: e.request_hash, message: e.message });
    }
  }
  return { entries, answers };
}

/** The sum of some entries. */
export function sumSpend(entries: Iterable<SpendEntry>): { usage: Usage; cost_usd: number } {
  const sum = { usage: { ...ZERO_USAGE }, cost: 0 };
  for (const e of entries) addInto(sum, e.usage, e.cost_usd);
  return { usage: sum.usage, cost_usd: sum.cost };
}

function usageOf(value: unknown): Usage {
  const u = (value ?? {}) as Partial<Record<keyof Usage, unknown>>;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  return { input_tokens: n(u.input_tokens), output_tokens: n(u.output_tokens), cache_creation_input_tokens: n(u.cache_creation_input_tokens), cache_read_input_tokens: n(u.cache_read_input_tokens) };
}

/**
 * The same count as foldSpend, kept up as events arrive in any order (several journals, a tail):
 * a call's `model_call` replaces its `model_usage` increments, whichever came first.
 */
export class SpendTally {
  readonly #calls = new Map<string, { final: boolean; usage: Usage; cost: number }>();
  readonly #loose = { usage: { ...ZERO_USAGE }, cost: 0 };
  #any = false;

  add(e: SpendEvent): void {
    if (e.type !== 'model_call' && e.type !== 'model_usage') return;
    this.#any = true;
    const usage = usageOf(e.usage);
    const cost = typeof e.cost_usd === 'number' && Number.isFinite(e.cost_usd) ? e.cost_usd : 0;
    if (typeof e.call_id !== 'string') {
      if (e.type === 'model_call') addInto(this.#loose, usage, cost);
      return;
    }
    const call = this.#calls.get(e.call_id);
    if (e.type === 'model_call') this.#calls.set(e.call_id, { final: true, usage, cost });
    else if (!call) this.#calls.set(e.call_id, { final: false, usage, cost });
    else if (!call.final) addInto(call, usage, cost);
  }

  /** What the events spent; undefined when they hold no model spending at all (an older record). */
  total(): { usage: Usage; cost_usd: number } | undefined {
    if (!this.#any) return undefined;
    const sum = { usage: { ...this.#loose.usage }, cost: this.#loose.cost };
    for (const c of this.#calls.values()) addInto(sum, c.usage, c.cost);
    return { usage: sum.usage, cost_usd: sum.cost };
  }
}

function addInto(into: { usage: Usage; cost: number }, usage: Usage, cost: number): void {
  addUsage(into.usage, usage);
  into.cost += cost;
}
