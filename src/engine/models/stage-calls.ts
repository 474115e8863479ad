import type { Iteration } from '../../records/iteration.js';
import type { ProviderName } from '../../config/generated/factory.js';
import type { StageNode } from '../../config/pipeline.js';
import { costOf, serverToolCost, type PricingTable, type ServerToolUse } from '../../config/pricing.js';
import { requestTokenUpperBound } from '../../providers/token-estimate.js';
import { usageOf, type CallKey, type CallOptions, type CallResult, type ModelRequest, type ModelResponse, type Provider, type ProviderError } from '../../providers/types.js';
import { budgetReason, type ModelCallReason } from '../../records/reasons.js';
import { callReason } from '../../providers/call-reason.js';
import { addUsage, ZERO_USAGE, type Usage } from '../../base/usage.js';
import type { BudgetLedger, BudgetWarning, Exhausted, Hold } from '../budget/budget.js';
import { askToRaise, describeAnswer, describeRefusedCall, type BudgetQuestionContext, type BudgetRaise } from '../budget/budget-ask.js';
import { untilOrAborted, wallDeadline } from '../schedule/wall-deadline.js';
import { callKeyText, requestHash } from './recorded-answers.js';
import type { CallOptionsLite, ModelCallResult } from './services.js';
import type { TranscriptWriter } from './transcript.js';
import type { ModelJournalEvent } from '../../records/events.js';

/**
 * The model calls of one attempt of one stage: each numbered, its worst case reserved in every
 * enclosing budget (waiting, asking or refusing), sent, charged as the provider reports usage,
 * journaled and written to the transcript; an answer cut off at max_tokens asked again once.
 */

/** A stage's (or a loop iteration's) spending across its attempts. */
export interface Account {
  path: string;
  iteration: Iteration | undefined;
  ledger: BudgetLedger;
  usage: Usage;
  cost: number;
  /** Budgets raised by an approved `on_exhausted: ask`, for the stage's record. */
  raises: BudgetRaise[];
  questions: number;
}

/** A journal-only event as the runtime makes it (time and run added by the caller). */
export type ModelJournalEventBody = ModelJournalEvent extends infer E ? (E extends unknown ? Omit<E, 'time' | 'run'> : never) : never;

/** What a stage's calls need of the run's model runtime (models.ts). */
export interface CallRuntime {
  readonly pricing: PricingTable;
  emit(event: { type: 'model_call'; stage: string; iteration?: Iteration; model: string; usage: Usage; cost_usd: number; call_id?: string; error?: string; provider?: string; response_model?: string; duration_ms?: number } | { type: 'budget_warning'; stage: string; iteration?: Iteration; budget: string; spent: number; limit: number }): void;
  journal(event: ModelJournalEventBody): void;
  /** After every charge: the run's `budget` context changed. */
  spent(): void;
  nextCallId(): string;
  provider(name: ProviderName): Promise<{ ok: true; provider: Provider } | { ok: false; error: ProviderError }>;
  promptTokens(request: ModelRequest, ledger: BudgetLedger, providerName: ProviderName, signal: AbortSignal): Promise<number>;
  /** An answer a killed run already received (and paid for), taken from its journal. */
  recordedAnswer(key: string, hash: string): ModelResponse | undefined;
  describeExhausted(e: Exhausted, refused: boolean): string;
}

/** The stage an instance serves. */
export interface CallStage {
  node: StageNode;
  iteration: Iteration | undefined;
  signal: AbortSignal;
  account: Account;
  provider: ProviderName;
  model: string | undefined;
  transcript: TranscriptWriter;
  budgetQuestion: BudgetQuestionContext | undefined;
}

/** One request's end, before the engine decides what its answer is worth. */
type Sent =
  | { ok: true; message: ModelResponse; usage: Usage; cost_usd: number; exhausted: Exhausted | undefined }
  | (ModelCallResult & { ok: false });

export class StageCalls {
  readonly #counters = new Map<string, number>();
  readonly #ref: { stage: string; iteration?: Iteration };

  constructor(
    private readonly rt: CallRuntime,
    private readonly stage: CallStage,
  ) {
    this.#ref = { stage: stage.node.path, ...(stage.iteration === undefined ? {} : { iteration: stage.iteration }) };
  }

  /** One model call: numbered, budgeted, charged, recorded, cut-off answers asked again once. Never throws. */
  async call(request: ModelRequest, options: CallOptionsLite = {}): Promise<ModelCallResult> {
    const { account, transcript, signal, budgetQuestion, node, iteration, provider: providerName } = this.stage;
    const rt = this.rt;
    const group = options.key ? `${options.key.scenario}\u0000${options.key.run ?? 1}` : '';
    const n = (this.#counters.get(group) ?? 0) + 1;
    this.#counters.set(group, n);
    const key: CallKey = { stage: node.path, iteration: iteration ?? 0, call: n, ...(options.key ? { scenario: options.key.scenario, run: options.key.run ?? 1 } : {}) };
    if (signal.aborted) return { ok: false, reason: { kind: 'cancelled' }, message: 'the model call was cancelled' };
    const made = await rt.provider(providerName);
    if (!made.ok) return { ok: false, reason: { kind: 'provider', cause: made.error.kind }, message: made.error.message };
    // An answer a killed run already received (and paid for) is taken from its journal.
    const recorded = rt.recordedAnswer(callKeyText(key), requestHash(request));
    if (recorded) {
      transcript.add({ type: 'response', call: n, ms: 0, cost_usd: 0, from_record: true, message: recorded });
      return { ok: true, message: recorded, usage: { ...ZERO_USAGE }, cost_usd: 0 };
    }
    let sent = request;
    for (let round = 1; ; round++) {
      const reserved = await this.#reserve(sent, n);
      if (!reserved.ok) return { ok: false, reason: reserved.reason, message: reserved.message };
      if (reserved.maxTokens < sent.max_tokens) sent = { ...sent, max_tokens: reserved.maxTokens };
      const got = await this.#send(sent, key, n, reserved.hold, options);
      if (!got.ok) return got;
      const answer = got.message;
      if (answer.stop_reason === 'max_tokens') {
        // Cut off: never taken as complete (a truncated tool input would reach a tool or pass as a verdict).
        const larger = request.max_tokens * 2;
        const canRetry = round === 1 && sent.max_tokens >= request.max_tokens && account.ledger.affords({ model: request.model, maxTokens: larger, promptTokens: requestTokenUpperBound(request) });
        transcript.add({ type: 'truncated', call: n, max_tokens: sent.max_tokens, retry: canRetry });
        if (canRetry) {
          sent = { ...request, max_tokens: larger };
          continue;
        }
        const why = round > 1 ? `again at max_tokens ${sent.max_tokens}` : sent.max_tokens < request.max_tokens ? `at max_tokens ${sent.max_tokens}, all the budget left allowed` : `at max_tokens ${sent.max_tokens}, and the budget left cannot pay for a longer answer`;
        return { ok: false, reason: { kind: 'output', cause: 'max_tokens' }, message: `the model's answer was cut off ${why}: raise max_tokens (or the budget) so the answer fits`, response: answer };
      }
      if (got.exhausted) {
        const asked = await askToRaise(budgetQuestion, got.exhausted, false, describeAnswer(answer));
        const still = asked.raised ? account.ledger.exhausted() : got.exhausted;
        if (still) {
          const why = asked.raised ? undefined : asked.why;
          return { ok: false, reason: budgetReason(still), message: `${rt.describeExhausted(still, false)}${why ? `; ${why}` : ''}`, response: answer };
        }
      }
      return { ok: true, message: answer, usage: got.usage, cost_usd: got.cost_usd };
    }
  }

  /** Usage measured outside a provider call (an external agent's report), charged to every enclosing budget. */
  charge(usage: Usage, cost: number, callModel: string | undefined): Exhausted | undefined {
    const { account, model } = this.stage;
    const ref = this.#ref;
    const rt = this.rt;
    const exhausted = account.ledger.charge(usage, cost);
    addUsage(account.usage, usage);
    account.cost += cost;
    rt.emit({ type: 'model_call', ...ref, model: callModel ?? model ?? 'unknown', usage, cost_usd: cost });
    for (const w of account.ledger.warnings()) rt.emit({ type: 'budget_warning', ...ref, ...warningFields(w) });
    rt.spent();
    return exhausted;
  }

  /**
   * Holds the call's worst case in every enclosing budget: waits while calls in flight hold
   * what it needs, asks a human where `on_exhausted: ask` says so, else refuses.
   */
  async #reserve(request: ModelRequest, n: number): Promise<{ ok: true; maxTokens: number; hold: Hold } | { ok: false; reason: ModelCallReason; message: string }> {
    const { account, transcript, signal, budgetQuestion, provider: providerName } = this.stage;
    const rt = this.rt;
    const estimate = { model: request.model, maxTokens: request.max_tokens, promptTokens: await rt.promptTokens(request, account.ledger, providerName, signal) };
    for (;;) {
      const reservation = account.ledger.reserve(estimate);
      if (reservation.ok) return reservation;
      if (reservation.wait) {
        if (!(await untilOrAborted(reservation.wait, signal))) return { ok: false, reason: { kind: 'cancelled' }, message: 'the model call was cancelled while it waited for the budget' };
        continue;
      }
      // `on_exhausted: ask`: a human may raise the budget instead; each raise is checked again.
      const asked = await askToRaise(budgetQuestion, reservation.exhausted, true, describeRefusedCall(n, request, estimate.promptTokens));
      if (asked.raised) continue;
      const message = `${rt.describeExhausted(reservation.exhausted, true)}${asked.why ? `; ${asked.why}` : ''}`;
      transcript.add({ type: 'refused', call: n, reason: 'budget', message });
      return { ok: false, reason: signal.aborted ? { kind: 'cancelled' } : budgetReason(reservation.exhausted), message };
    }
  }

  /** One request under a hold: usage charged as the provider reports it, the hold released at the end. */
  async #send(request: ModelRequest, key: CallKey, n: number, hold: Hold, options: CallOptionsLite): Promise<Sent> {
    const { account, transcript, signal } = this.stage;
    const ref = this.#ref;
    const rt = this.rt;
    const callId = rt.nextCallId();
    const spent = { usage: { ...ZERO_USAGE }, cost: 0, reported: false };
    let exhausted: Exhausted | undefined;
    let toolCost = 0;
    const spend = (increment: Usage) => {
      const before = spent.cost;
      addUsage(spent.usage, increment);
      // Priced on the whole call so far: a long prompt's rates apply to all of it.
      spent.cost = (costOf(request.model, spent.usage, rt.pricing) ?? 0) + toolCost;
      exhausted = hold.spend(increment, spent.cost - before) ?? exhausted;
      addUsage(account.usage, increment);
      account.cost += spent.cost - before;
      rt.journal({ type: 'model_usage', ...ref, call_id: callId, model: request.model, usage: increment, cost_usd: spent.cost - before });
    };
    transcript.request(n, key, request);
    const started = Date.now();
    const deadline = wallDeadline(account.ledger, signal);
    let answer: CallResult;
    try {
      answer = await this.#providerCall(request, {
        key,
        signal: deadline.signal,
        ...(options.onText ? { onText: options.onText } : {}),
        onRetry: (info) => transcript.add({ type: 'retry', call: n, retry: info.retry, delay_ms: info.delayMs, error: info.error.message }),
        onUsage: (increment) => {
          spent.reported = true;
          spend(increment);
        },
      });
    } finally {
      deadline.clear();
    }
    // A provider that reports no increments is charged the answer's usage, as billed.
    if (answer.ok && !spent.reported) spend(usageOf(answer.message));
    // The provider's web searches and fetches are billed per use, beside the tokens.
    if (answer.ok) {
      toolCost = serverToolCost(request.model, (answer.message.usage as { server_tool_use?: ServerToolUse | null }).server_tool_use, rt.pricing);
      if (toolCost > 0) spend({ ...ZERO_USAGE });
    }
    hold.release();
    const wallTime = deadline.exhausted();
    const error = !answer.ok ? answer.error.message : undefined;
    const answered = answer.ok ? { response_model: answer.message.model } : {};
    rt.emit({ type: 'model_call', ...ref, model: request.model, usage: spent.usage, cost_usd: spent.cost, call_id: callId, ...(error ? { error } : {}), provider: this.stage.provider, ...answered, duration_ms: Date.now() - started });
    for (const w of account.ledger.warnings()) rt.emit({ type: 'budget_warning', ...ref, ...warningFields(w) });
    rt.spent();
    if (wallTime) {
      transcript.add({ type: 'error', call: n, kind: 'budget', message: rt.describeExhausted(wallTime, false) });
      return { ok: false, reason: budgetReason(wallTime), message: `${rt.describeExhausted(wallTime, false)}; the model call in flight was stopped` };
    }
    if (!answer.ok) {
      transcript.add({ type: 'error', call: n, kind: answer.error.kind, message: answer.error.message });
      return { ok: false, reason: callReason(answer.error, signal.aborted), message: answer.error.message };
    }
    transcript.add({ type: 'response', call: n, ms: Date.now() - started, cost_usd: spent.cost, message: answer.message });
    rt.journal({ type: 'model_answer', ...ref, call_id: callId, key: callKeyText(key), request_hash: requestHash(request), message: answer.message });
    return { ok: true, message: answer.message, usage: spent.usage, cost_usd: spent.cost, exhausted };
  }

  async #providerCall(request: ModelRequest, options: CallOptions): Promise<CallResult> {
    const { provider: providerName } = this.stage;
    const rt = this.rt;
    const got = await rt.provider(providerName);
    if (!got.ok) return { ok: false, error: got.error };
    return got.provider.call(request, options);
  }
}

function warningFields(w: BudgetWarning): { budget: string; spent: number; limit: number } {
  return { budget: w.scope === 'run' ? w.budget : `${w.budget} of ${w.scope}`, spent: w.spent, limit: w.limit };
}
