import { durationMs, tokenCount } from '../../config/units.js';
import { BUILTIN_PRICING, priceOf, ratesFor, type PricingTable } from '../../config/pricing.js';
import { totalTokens } from '../../base/usage.js';
import type { Usage } from '../../base/usage.js';

/**
 * The budget ledger (docs/models-and-budgets.md): what a scope (the run, a loop, a stage) may spend in
 * tokens, dollars and wall time, and what it has spent. Scopes nest: charging a stage charges
 * its loop and the run; a call is allowed only when every enclosing scope can pay for it.
 * Pure bookkeeping — the clock is injected, and warnings and exhaustion are returned for the
 * caller to turn into events and statuses.
 */
export type BudgetName = 'tokens' | 'cost_usd' | 'wall_time';

export interface BudgetLimits {
  /** Input + output + cache tokens. */
  tokens?: number | undefined;
  cost_usd?: number | undefined;
  /** Elapsed time, pauses for humans excluded. */
  wall_time_ms?: number | undefined;
  /** Fraction of a limit at which a warning is given, once per scope and budget. Default 0.8. */
  warn_at?: number | undefined;
}

/** A budget with nothing left: which scope, which budget, spent against limit. */
export interface Exhausted {
  /** `run`, or the dotted path of a stage or loop. */
  scope: string;
  budget: BudgetName;
  /** Tokens, USD or milliseconds. */
  spent: number;
  limit: number;
  /** When a call was refused: the least it needed (tokens, or USD for cost_usd). */
  needed?: number;
}

export interface BudgetWarning {
  scope: string;
  budget: BudgetName;
  spent: number;
  limit: number;
}

export interface CallEstimate {
  model: string;
  /** The `max_tokens` the call would ask for. */
  maxTokens: number;
  /** Estimated prompt tokens (input + cache); 0 when unknown. */
  promptTokens?: number;
}

/**
 * The answer to a reservation: go ahead with `maxTokens` (the call's worst case is held in every
 * enclosing scope until `hold` is settled), or no. A refusal with `wait` means calls in flight
 * hold what is missing: once one of them settles, asking again may succeed.
 */
export type Reservation =
  | { ok: true; maxTokens: number; hold: Hold }
  | { ok: false; exhausted: Exhausted; wait?: Promise<void> };

/**
 * What one call holds in a scope and its ancestors: its worst case at first, turned into spending
 * as usage arrives, the rest given back by `release`.
 */
export interface Hold {
  /** Charges usage the call has reported (an increment) against what it holds; returns an exhausted budget, if any. */
  spend(usage: Usage, cost: number): Exhausted | undefined;
  /** Gives back what the call still holds (after its last usage, or when it failed). Idempotent. */
  release(): void;
}

export interface Spent {
  tokens: number;
  cost_usd: number;
  wall_time_ms: number;
}

/** What is left, the tightest over a scope and its ancestors; null where no limit applies. */
export interface Remaining {
  tokens: number | null;
  cost_usd: number | null;
  wall_time_ms: number | null;
}

export interface LedgerOptions {
  scope: string;
  limits?: BudgetLimits;
  parent?: BudgetLedger;
  /** Prices for capping `max_tokens` by dollars; inherited from the parent, else the built-in table. */
  pricing?: PricingTable;
  /** Milliseconds; inherited from the parent, else Date.now. */
  clock?: () => number;
}

export const DEFAULT_WARN_AT = 0.8;

/** Tokens of a call as budgets count them: input + output + cache writes + cache reads. */
export function tokensOf(usage: Usage): number {
  return totalTokens(usage);
}

/** Limits from a `budget:` block as written (`tokens: 2M`, `wall_time: 45m`). */
export function budgetLimits(block: { tokens?: unknown; cost_usd?: unknown; wall_time?: unknown; warn_at?: unknown } | undefined): BudgetLimits {
  const limits: BudgetLimits = {};
  if (!block) return limits;
  if (block.tokens !== undefined) limits.tokens = tokenCount(block.tokens);
  if (typeof block.cost_usd === 'number') limits.cost_usd = block.cost_usd;
  if (typeof block.wall_time === 'string') limits.wall_time_ms = durationMs(block.wall_time);
  if (typeof block.warn_at === 'number') limits.warn_at = block.warn_at;
  return limits;
}

export class BudgetLedger {
  readonly scope: string;
  readonly parent: BudgetLedger | undefined;
  readonly pricing: PricingTable;
  readonly clock: () => number;
  #limits: BudgetLimits;
  #tokens = 0;
  #cost = 0;
  /** Held by calls in flight (their worst case not yet spent), here and in every ancestor. */
  #heldTokens = 0;
  #heldCost = 0;
  /** Callers waiting for a hold of this scope to be released. */
  #waiters: (() => void)[] = [];
  readonly #startedAt: number;
  #pausedMs = 0;
  #pauses = 0;
  #pausedAt = 0;
  readonly #warned = new Set<BudgetName>();

  constructor(options: LedgerOptions) {
    this.scope = options.scope;
    this.parent = options.parent;
    this.#limits = { ...options.limits };
    this.pricing = options.pricing ?? options.parent?.pricing ?? BUILTIN_PRICING;
    this.clock = options.clock ?? options.parent?.clock ?? Date.now;
    this.#startedAt = this.clock();
  }

  /** A nested scope (a loop, a stage), starting its wall clock now. */
  child(scope: string, limits: BudgetLimits = {}): BudgetLedger {
    return new BudgetLedger({ scope, limits, parent: this });
  }

  get limits(): Readonly<BudgetLimits> {
    return this.#limits;
  }

  /** This scope and its ancestors, innermost first. */
  chain(): BudgetLedger[] {
    const out: BudgetLedger[] = [this];
    for (let l = this.parent; l; l = l.parent) out.push(l);
    return out;
  }

  /**
   * Before a model call: its worst case — the prompt estimate plus `maxTokens`, capped to what is
   * left — is held in this scope and every ancestor at once, so calls running in parallel share
   * what is left instead of each seeing all of it (docs/models-and-budgets.md). Refused when some scope cannot
   * pay for the prompt and one output token (or its wall time is up); when that is because calls
   * in flight hold the rest, or when the cap would cut the call short while they do, the refusal
   * carries `wait`: ask again once one of them settles. A model without a price is not capped by
   * dollars (the engine refuses such a model under a cost budget before the run).
   */
  reserve(estimate: CallEstimate): Reservation {
    const prompt = Math.max(0, Math.ceil(estimate.promptTokens ?? 0));
    const wanted = Math.max(1, Math.floor(estimate.maxTokens));
    let cap = wanted;
    let binding: { ledger: BudgetLedger; budget: 'tokens' | 'cost_usd' } | undefined;
    const price = priceOf(estimate.model, this.pricing);
    const rates = price ? ratesFor(price, prompt) : undefined;
    // The prompt may be billed as a cache write, the dearest way to send it.
    const promptCost = rates ? (prompt * Math.max(rates.input, rates.cache_write)) / 1_000_000 : 0;
    const perOutput = rates ? rates.output / 1_000_000 : 0;
    for (const l of this.chain()) {
      const { tokens, cost_usd, wall_time_ms } = l.#limits;
      const elapsed = l.elapsedMs();
      if (wall_time_ms !== undefined && elapsed >= wall_time_ms) {
        return { ok: false, exhausted: { scope: l.scope, budget: 'wall_time', spent: elapsed, limit: wall_time_ms } };
      }
      if (tokens !== undefined) {
        const room = tokens - l.#tokens - l.#heldTokens - prompt;
        if (room < 1) return l.#refuse({ scope: l.scope, budget: 'tokens', spent: l.#tokens, limit: tokens, needed: prompt + 1 }, l.#heldTokens > 0);
        if (room < cap) [cap, binding] = [room, { ledger: l, budget: 'tokens' }];
      }
      if (cost_usd !== undefined && rates) {
        // The epsilon keeps float noise (0.008 / 0.00001 = 799.999…) from costing a token.
        const room = perOutput > 0 ? Math.floor((cost_usd - l.#cost - l.#heldCost - promptCost) / perOutput + 1e-9) : Infinity;
        if (room < 1) return l.#refuse({ scope: l.scope, budget: 'cost_usd', spent: l.#cost, limit: cost_usd, needed: promptCost + perOutput }, l.#heldCost > 0);
        if (room < cap) [cap, binding] = [room, { ledger: l, budget: 'cost_usd' }];
      }
    }
    // Cut short only by what others hold for now: better to wait for them than to ask for a sliver.
    if (binding && cap < wanted) {
      const l = binding.ledger;
      const held = binding.budget === 'tokens' ? l.#heldTokens : l.#heldCost;
      if (held > 0) {
        const limit = (binding.budget === 'tokens' ? l.#limits.tokens : l.#limits.cost_usd) ?? 0;
        const spent = binding.budget === 'tokens' ? l.#tokens : l.#cost;
        const needed = binding.budget === 'tokens' ? prompt + wanted : promptCost + wanted * perOutput;
        return { ok: false, exhausted: { scope: l.scope, budget: binding.budget, spent, limit, needed }, wait: l.#released() };
      }
    }
    const maxTokens = Math.max(1, Math.floor(cap));
    return { ok: true, maxTokens, hold: this.#hold(prompt + maxTokens, promptCost + maxTokens * perOutput) };
  }

  /** A refusal; with `wait` when calls in flight hold part of what is missing. */
  #refuse(exhausted: Exhausted, held: boolean): Reservation {
    return held ? { ok: false, exhausted, wait: this.#released() } : { ok: false, exhausted };
  }

  /** Resolves when some hold of this scope is released. */
  #released(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #hold(tokens: number, cost: number): Hold {
    const chain = this.chain();
    for (const l of chain) {
      l.#heldTokens += tokens;
      l.#heldCost += cost;
    }
    let heldTokens = tokens;
    let heldCost = cost;
    const give = (t: number, c: number) => {
      for (const l of chain) {
        l.#heldTokens = Math.max(0, l.#heldTokens - t);
        l.#heldCost = Math.max(0, l.#heldCost - c);
      }
      heldTokens -= t;
      heldCost -= c;
    };
    return {
      spend: (usage, c) => {
        give(Math.min(heldTokens, tokensOf(usage)), Math.min(heldCost, c));
        return this.charge(usage, c);
      },
      release: () => {
        if (heldTokens === 0 && heldCost === 0) return;
        give(heldTokens, heldCost);
        for (const l of chain) {
          const waiting = l.#waiters;
          l.#waiters = [];
          for (const wake of waiting) wake();
        }
      },
    };
  }

  /**
   * Spending of this scope from before this process (a resumed run's journal): counted here
   * alone, since each enclosing scope is seeded with its own total.
   */
  seed(usage: Usage, cost: number): void {
    this.#tokens += tokensOf(usage);
    this.#cost += cost;
  }

  /** Whether a call of this size could be held in full now (no waiting, no capping). */
  affords(estimate: CallEstimate): boolean {
    const r = this.reserve(estimate);
    if (!r.ok) return false;
    r.hold.release();
    return r.maxTokens >= estimate.maxTokens;
  }

  /** Tokens and dollars held by calls in flight in this scope (theirs and its children's). */
  held(): { tokens: number; cost_usd: number } {
    return { tokens: this.#heldTokens, cost_usd: this.#heldCost };
  }

  /**
   * After a call: charges its usage and cost here and in every enclosing scope. Returns the
   * first budget (innermost scope first) that has nothing left, if any.
   */
  charge(usage: Usage, cost: number | undefined): Exhausted | undefined {
    const tokens = tokensOf(usage);
    for (const l of this.chain()) {
      l.#tokens += tokens;
      l.#cost += cost ?? 0;
    }
    return this.exhausted();
  }

  /** The first budget with nothing left, this scope first, then its ancestors. */
  exhausted(): Exhausted | undefined {
    for (const l of this.chain()) {
      const { tokens, cost_usd, wall_time_ms } = l.#limits;
      if (tokens !== undefined && l.#tokens >= tokens) return { scope: l.scope, budget: 'tokens', spent: l.#tokens, limit: tokens };
      if (cost_usd !== undefined && l.#cost >= cost_usd) return { scope: l.scope, budget: 'cost_usd', spent: l.#cost, limit: cost_usd };
      const elapsed = l.elapsedMs();
      if (wall_time_ms !== undefined && elapsed >= wall_time_ms) return { scope: l.scope, budget: 'wall_time', spent: elapsed, limit: wall_time_ms };
    }
    return undefined;
  }

  /** Budgets of this scope and its ancestors that crossed `warn_at` since they were last asked: each once. */
  warnings(): BudgetWarning[] {
    const out: BudgetWarning[] = [];
    for (const l of this.chain()) {
      const warnAt = l.#limits.warn_at ?? DEFAULT_WARN_AT;
      const spent = l.spent();
      const check = (budget: BudgetName, value: number, limit: number | undefined) => {
        if (limit === undefined || l.#warned.has(budget) || value < limit * warnAt) return;
        l.#warned.add(budget);
        out.push({ scope: l.scope, budget, spent: value, limit });
      };
      check('tokens', spent.tokens, l.#limits.tokens);
      check('cost_usd', spent.cost_usd, l.#limits.cost_usd);
      check('wall_time', spent.wall_time_ms, l.#limits.wall_time_ms);
    }
    return out;
  }

  /** What this scope has spent (its children's charges included). */
  spent(): Spent {
    return { tokens: this.#tokens, cost_usd: this.#cost, wall_time_ms: this.elapsedMs() };
  }

  remaining(): Remaining {
    const out: Remaining = { tokens: null, cost_usd: null, wall_time_ms: null };
    const min = (a: number | null, b: number) => (a === null ? b : Math.min(a, b));
    for (const l of this.chain()) {
      const { tokens, cost_usd, wall_time_ms } = l.#limits;
      if (tokens !== undefined) out.tokens = min(out.tokens, Math.max(0, tokens - l.#tokens));
      if (cost_usd !== undefined) out.cost_usd = min(out.cost_usd, Math.max(0, cost_usd - l.#cost));
      if (wall_time_ms !== undefined) out.wall_time_ms = min(out.wall_time_ms, Math.max(0, wall_time_ms - l.elapsedMs()));
    }
    return out;
  }

  /** The `budget` context of expressions: this scope's spending, and what is left over all enclosing scopes. */
  context(): { spent_usd: number; spent_tokens: number; remaining_usd: number | null; remaining_tokens: number | null } {
    const left = this.remaining();
    return { spent_usd: this.#cost, spent_tokens: this.#tokens, remaining_usd: left.cost_usd, remaining_tokens: left.tokens };
  }

  /** Wall time of this scope so far, time paused for humans excluded. */
  elapsedMs(): number {
    const now = this.clock();
    const pausedNow = this.#pauses > 0 ? now - this.#pausedAt : 0;
    return Math.max(0, now - this.#startedAt - this.#pausedMs - pausedNow);
  }

  /**
   * Stops the wall clock of this scope and its ancestors while a human is asked (an approve
   * stage, a budget question). Pauses nest: each pause() needs its resume().
   */
  pause(): void {
    const now = this.clock();
    for (const l of this.chain()) {
      if (l.#pauses++ === 0) l.#pausedAt = now;
    }
  }

  resume(): void {
    const now = this.clock();
    for (const l of this.chain()) {
      if (l.#pauses === 0) continue;
      if (--l.#pauses === 0) l.#pausedMs += now - l.#pausedAt;
    }
  }

  /** Raises this scope's limits (an approved `on_exhausted: ask`); its warnings may fire again. */
  extend(more: Omit<BudgetLimits, 'warn_at'>): void {
    const raise = (budget: BudgetName, key: 'tokens' | 'cost_usd' | 'wall_time_ms') => {
      const by = more[key];
      const limit = this.#limits[key];
      if (by === undefined || limit === undefined) return;
      this.#limits = { ...this.#limits, [key]: limit + by };
      this.#warned.delete(budget);
    };
    raise('tokens', 'tokens');
    raise('cost_usd', 'cost_usd');
    raise('wall_time', 'wall_time_ms');
  }
}
