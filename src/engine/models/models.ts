import path from 'node:path';
import { createDenyMatcher, type Matcher } from '../../workspace/matcher.js';
import type { ProviderName } from '../../config/generated/factory.js';
import { ownersOf, stageProfile, stageSetting } from '../../config/stage-model.js';
import type { JsonValue, Pipeline, StageNode } from '../../config/pipeline.js';
import { costOf, serverToolCost, type ServerToolUse } from '../../config/pricing.js';
import type { CassetteRecorder } from '../../providers/replay/record.js';
import { redactor } from '../../providers/redact.js';
import { requestTokenUpperBound } from '../../providers/token-estimate.js';
import { usageOf, type CallKey, type CallOptions, type CallResult, type ModelRequest, type ModelResponse, type Provider, type ProviderError } from '../../providers/types.js';
import { sumSpend, type PriorSpend, type SpendEntry } from '../../records/spend.js';
import { stagesDir } from '../../records/paths.js';
import type { StageBudget } from '../../config/generated/factory.js';
import type { Approvals } from '../approvals/approvals.js';
import { BudgetLedger, budgetLimits, type BudgetWarning, type Exhausted, type Hold } from '../budget/budget.js';
import { untilOrAborted, wallDeadline } from '../schedule/wall-deadline.js';
import { amount, askToRaise, describeAnswer, describeRefusedCall, type BudgetQuestionContext, type BudgetRaise } from '../budget/budget-ask.js';
import { type ModelJournalEvent } from '../../records/events.js';
import { budgetReason, type ModelCallReason } from '../../records/reasons.js';
import { callReason } from '../../providers/call-reason.js';
import { RecordedAnswers, callKeyText, requestHash } from './recorded-answers.js';
import { takeSnapshot, type Snapshot } from '../../workspace/snapshot.js';
import { addUsage } from '../../base/usage.js';
import { ZERO_USAGE, type Usage } from '../../base/usage.js';
import { ancestorsOf, findNode, walk } from './stage-tree.js';
import { TranscriptWriter } from './transcript.js';
import { DEFAULT_MAX_TOKENS, type CallOptionsLite, type ModelCallResult, type ModelServices } from './services.js';
import { modelOf, providerOf, type PreparedModels } from './preflight.js';


/** One request's end, before the engine decides what its answer is worth. */
type Sent =
  | { ok: true; message: ModelResponse; usage: Usage; cost_usd: number; exhausted: Exhausted | undefined }
  | (ModelCallResult & { ok: false });

/** What the runtime needs from the run. */
export interface RuntimeHooks {
  /** Emits model_call and budget_warning (time and run added by the caller). */
  emit(event: { type: 'model_call'; stage: string; iteration?: number; model: string; usage: Usage; cost_usd: number; call_id?: string; error?: string } | { type: 'budget_warning'; stage: string; iteration?: number; budget: string; spent: number; limit: number }): void;
  /** After every charge: the run's `budget` expression context changed. */
  onSpend(context: ReturnType<BudgetLedger['context']>): void;
  /** The run's record directory. */
  recordDir: string;
  /** What this run spent before this process (a resumed run's journal), and the answers it received. */
  prior?: PriorSpend;
  /** Appends a journal-only event (spending as it is reported, answers received) to the run's journal. */
  journal?(event: ModelJournalEventBody): void;

  /** Asks humans to raise a budget with `on_exhausted: ask`; without it such budgets stop. */
  approvals?: Approvals;
  /** The run's workspace snapshots (the engine's tracker): the review's baseline and the workspace now. */
  snapshots?: { runStart(): Snapshot; now(): Snapshot };
}

interface Account {
  path: string;
  iteration: number | undefined;
  ledger: BudgetLedger;
  usage: Usage;
  cost: number;
  /** Budgets raised by an approved `on_exhausted: ask`, for the stage's record. */
  raises: BudgetRaise[];
  questions: number;
}

/** A journal-only event as the runtime makes it (time and run added by the caller). */
export type ModelJournalEventBody = ModelJournalEvent extends infer E ? (E extends unknown ? Omit<E, 'time' | 'run'> : never) : never;

/** The model side of one run: ledgers and per-stage services. */
export class ModelRuntime {
  readonly runLedger: BudgetLedger;
  readonly holdout: Matcher;
  readonly #prepared: PreparedModels;
  readonly #hooks: RuntimeHooks;
  readonly #scopes = new Map<string, BudgetLedger>();
  readonly #accounts = new Map<string, Account>();
  readonly #redact: (text: string) => string;
  #runStart: Snapshot | undefined;
  readonly #answers = new RecordedAnswers();
  readonly #prior: readonly SpendEntry[];
  /** Call ids unique across the processes of one run (a resumed run appends to the same journal). */
  readonly #callPrefix = `${process.pid.toString(36)}${Date.now().toString(36)}-`;
  #calls = 0;

  constructor(prepared: PreparedModels, hooks: RuntimeHooks) {
    this.#prepared = prepared;
    this.#hooks = hooks;
    const pipeline = prepared.pipeline;
    this.runLedger = new BudgetLedger({ scope: 'run', limits: budgetLimits(pipeline.config.budget), pricing: prepared.pricing });
    // A resumed run starts from everything it spent, whatever its stages' statuses: resuming never buys a budget again.
    this.#prior = hooks.prior?.entries ?? [];
    const before = sumSpend(this.#prior);
    this.runLedger.seed(before.usage, before.cost_usd);
    for (const a of hooks.prior?.answers ?? []) this.#answers.add(a.key, a.request_hash, a.message as ModelResponse);
    this.holdout = createDenyMatcher(prepared.holdoutGlobs);
    this.#redact = redactor(prepared.env);
    if (!hooks.snapshots && needsRunStartSnapshot(pipeline)) this.#runStart = this.takeSnapshot();
  }

  get recorder(): CassetteRecorder | undefined {
    return this.#prepared.recorder;
  }

  /** Only when the run gives no snapshots of its own (a ModelRuntime built on its own, as in tests). */
  private takeSnapshot(previous?: Snapshot): Snapshot {
    const ignore = this.#prepared.pipeline.config.watch?.ignore;
    return takeSnapshot(this.#prepared.pipeline.dir, { ...(ignore ? { ignore } : {}), ...(previous ? { previous } : {}) });
  }

  runStart(): Snapshot {
    if (this.#hooks.snapshots) return this.#hooks.snapshots.runStart();
    this.#runStart ??= this.takeSnapshot();
    return this.#runStart;
  }

  /** A JSON value with every secret of the environment replaced by [redacted]. */
  redact<T>(value: T): T {
    const walkValue = (v: unknown): unknown => {
      if (typeof v === 'string') return this.#redact(v);
      if (Array.isArray(v)) return v.map(walkValue);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walkValue(x)]));
      return v;
    };
    return walkValue(value) as T;
  }

  redactText(text: string): string {
    return this.#redact(text);
  }

  /** The ledger of a loop (or any scope-owning stage) by its path; the run's for ''. */
  ledgerFor(scopePath: string): BudgetLedger {
    if (scopePath === '') return this.runLedger;
    const hit = this.#scopes.get(scopePath);
    if (hit) return hit;
    const node = findNode(this.#prepared.pipeline.root, scopePath);
    const parentPath = scopePath.includes('.') ? scopePath.slice(0, scopePath.lastIndexOf('.')) : '';
    const parent = this.ledgerFor(parentPath);
    const budget = (node?.def as { budget?: Parameters<typeof budgetLimits>[0] } | undefined)?.budget;
    const ledger = budget ? this.#seeded(parent.child(scopePath, budgetLimits(budget)), (e) => e.stage === scopePath || e.stage.startsWith(`${scopePath}.`)) : parent;
    this.#scopes.set(scopePath, ledger);
    return ledger;
  }

  #account(node: StageNode, iteration: number | undefined): Account {
    const key = `${node.path}@${iteration ?? ''}`;
    let account = this.#accounts.get(key);
    if (!account) {
      const parentPath = node.path.includes('.') ? node.path.slice(0, node.path.lastIndexOf('.')) : '';
      const parent = this.ledgerFor(parentPath);
      const budget = (node.def as { budget?: Parameters<typeof budgetLimits>[0] }).budget;
      const ledger = budget ? this.#seeded(parent.child(node.path, budgetLimits(budget)), (e) => e.stage === node.path && e.iteration === iteration) : parent;
      account = { path: node.path, iteration, ledger, usage: { ...ZERO_USAGE }, cost: 0, raises: [], questions: 0 };
      this.#accounts.set(key, account);
    }
    return account;
  }

  #seeded(ledger: BudgetLedger, mine: (e: SpendEntry) => boolean): BudgetLedger {
    const before = sumSpend(this.#prior.filter(mine));
    ledger.seed(before.usage, before.cost_usd);
    return ledger;
  }

  #nextCallId(): string {
    return `${this.#callPrefix}${++this.#calls}`;
  }

  /**
   * The prompt's tokens for a reservation, never below the real count: an upper bound for any
   * script, or — when that bound would not fit the budget left (it overestimates ordinary text
   * about 2–3×) — the provider's own count. A budget with room to spare costs no extra request.
   */
  async #promptTokens(request: ModelRequest, ledger: BudgetLedger, providerName: ProviderName, signal: AbortSignal): Promise<number> {
    const bound = requestTokenUpperBound(request);
    if (ledger.affords({ model: request.model, maxTokens: request.max_tokens, promptTokens: bound })) return bound;
    const made = await this.#provider(providerName);
    const counted = made.ok ? await made.provider.countTokens?.(request, signal).catch(() => undefined) : undefined;
    // A counting endpoint's figure may drift a little from billing: a small margin on top.
    return counted === undefined ? bound : Math.min(bound, Math.ceil(counted * 1.02) + 16);
  }

  /**
   * What a stage spent, over all its attempts: its own calls and, for a loop, every call of its
   * body (each iteration), so the stage's file and run.json carry it.
   */
  spentBy(stagePath: string, iteration?: number): { usage: Usage; cost_usd: number } | undefined {
    const usage = { ...ZERO_USAGE };
    let cost = 0;
    let any = false;
    for (const a of this.#accounts.values()) {
      const own = a.path === stagePath && a.iteration === iteration;
      const nested = a.path.startsWith(`${stagePath}.`);
      if (!own && !nested) continue;
      any = true;
      addUsage(usage, a.usage);
      cost += a.cost;
    }
    return any ? { usage, cost_usd: cost } : undefined;
  }

  /** `budget raised: tokens of "gen" by 1,000 tokens to 2,000 tokens (approved by ada)`, for a stage's message; undefined when none was. */
  raisedFor(stagePath: string, iteration?: number): string | undefined {
    const raises = this.#accounts.get(`${stagePath}@${iteration ?? ''}`)?.raises ?? [];
    if (raises.length === 0) return undefined;
    const one = (r: BudgetRaise) => `${r.budget} of "${r.scope}" by ${amount(r.budget, r.by)} to ${amount(r.budget, r.limit)} (approved by ${r.approvedBy ?? 'someone'})`;
    return `budget raised: ${raises.map(one).join('; ')}`;
  }

  describeExhausted(e: Exhausted, refused: boolean): string {
    const who = e.scope === 'run' ? 'the run' : `stage "${e.scope}"`;
    const amount = (v: number) => (e.budget === 'cost_usd' ? `$${v.toFixed(4)}` : e.budget === 'wall_time' ? `${Math.round(v / 1000)}s` : `${Math.round(v)} tokens`);
    const figures = `${amount(e.spent)} spent of ${amount(e.limit)}`;
    if (refused && e.needed !== undefined) return `the ${e.budget} budget of ${who} cannot pay for another model call: ${figures}, the call needs at least ${amount(e.needed)}`;
    return `the ${e.budget} budget of ${who} is exhausted: ${figures}`;
  }

  /** The services of one attempt of one stage. */
  forStage(node: StageNode, iteration: number | undefined, attempt: number, signal: AbortSignal): ModelServices {
    const prepared = this.#prepared;
    const owners = ownersOf(prepared.pipeline, ancestorsOf(prepared.pipeline.root, node.path));
    const account = this.#account(node, iteration);
    const providerName = providerOf(owners, node, prepared.flags);
    const model = modelOf(owners, node);
    const counters = new Map<string, number>();
    const transcript = new TranscriptWriter(
      path.join(stagesDir(this.#hooks.recordDir), `${node.path}${iteration === undefined ? '' : `@${iteration}`}`),
      (v) => this.redact(v),
      (t) => this.redactText(t),
    );
    transcript.header = { type: 'attempt', attempt, time: new Date().toISOString() };
    const ref = { stage: node.path, ...(iteration === undefined ? {} : { iteration }) };

    /** Usage measured outside a provider call (an external agent's report). */
    const charge = (usage: Usage, cost: number, callModel: string | undefined): Exhausted | undefined => {
      const exhausted = account.ledger.charge(usage, cost);
      addUsage(account.usage, usage);
      account.cost += cost;
      this.#hooks.emit({ type: 'model_call', ...ref, model: callModel ?? model ?? 'unknown', usage, cost_usd: cost });
      for (const w of account.ledger.warnings()) this.#hooks.emit({ type: 'budget_warning', ...ref, ...warningFields(w) });
      this.#hooks.onSpend(this.runLedger.context());
      return exhausted;
    };

    const budgetQuestion: BudgetQuestionContext | undefined = this.#hooks.approvals && {
      approvals: this.#hooks.approvals,
      stage: node.path,
      iteration,
      signal,
      ledger: account.ledger,
      budgetOf: (scope) => (findNode(prepared.pipeline.root, scope)?.def as { budget?: StageBudget } | undefined)?.budget,
      describe: (e, refused) => this.describeExhausted(e, refused),
      nextQuestion: () => ++account.questions,
      raised: (raise) => {
        account.raises.push(raise);
        transcript.add({ type: 'budget_raised', ...raise });
      },
    };

    /**
     * Holds the call's worst case in every enclosing budget: waits while calls in flight hold
     * what it needs, asks a human where `on_exhausted: ask` says so, else refuses.
     */
    const reserveFor = async (request: ModelRequest, n: number): Promise<{ ok: true; maxTokens: number; hold: Hold } | { ok: false; reason: ModelCallReason; message: string }> => {
      const estimate = { model: request.model, maxTokens: request.max_tokens, promptTokens: await this.#promptTokens(request, account.ledger, providerName, signal) };
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
        const message = `${this.describeExhausted(reservation.exhausted, true)}${asked.why ? `; ${asked.why}` : ''}`;
        transcript.add({ type: 'refused', call: n, reason: 'budget', message });
        return { ok: false, reason: signal.aborted ? { kind: 'cancelled' } : budgetReason(reservation.exhausted), message };
      }
    };

    /** One request under a hold: usage charged as the provider reports it, the hold released at the end. */
    const send = async (request: ModelRequest, key: CallKey, n: number, hold: Hold, options: CallOptionsLite): Promise<Sent> => {
      const callId = this.#nextCallId();
      const spent = { usage: { ...ZERO_USAGE }, cost: 0, reported: false };
      let exhausted: Exhausted | undefined;
      let toolCost = 0;
      const spend = (increment: Usage) => {
        const before = spent.cost;
        addUsage(spent.usage, increment);
        // Priced on the whole call so far: a long prompt's rates apply to all of it.
        spent.cost = (costOf(request.model, spent.usage, prepared.pricing) ?? 0) + toolCost;
        exhausted = hold.spend(increment, spent.cost - before) ?? exhausted;
        addUsage(account.usage, increment);
        account.cost += spent.cost - before;
        this.#hooks.journal?.({ type: 'model_usage', ...ref, call_id: callId, model: request.model, usage: increment, cost_usd: spent.cost - before });
      };
      transcript.request(n, key, request);
      const started = Date.now();
      const deadline = wallDeadline(account.ledger, signal);
      let answer: CallResult;
      try {
        answer = await provider(request, {
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
        toolCost = serverToolCost(request.model, (answer.message.usage as { server_tool_use?: ServerToolUse | null }).server_tool_use, prepared.pricing);
        if (toolCost > 0) spend({ ...ZERO_USAGE });
      }
      hold.release();
      const wallTime = deadline.exhausted();
      const error = !answer.ok ? answer.error.message : undefined;
      this.#hooks.emit({ type: 'model_call', ...ref, model: request.model, usage: spent.usage, cost_usd: spent.cost, call_id: callId, ...(error ? { error } : {}) });
      for (const w of account.ledger.warnings()) this.#hooks.emit({ type: 'budget_warning', ...ref, ...warningFields(w) });
      this.#hooks.onSpend(this.runLedger.context());
      if (wallTime) {
        transcript.add({ type: 'error', call: n, kind: 'budget', message: this.describeExhausted(wallTime, false) });
        return { ok: false, reason: budgetReason(wallTime), message: `${this.describeExhausted(wallTime, false)}; the model call in flight was stopped` };
      }
      if (!answer.ok) {
        transcript.add({ type: 'error', call: n, kind: answer.error.kind, message: answer.error.message });
        return { ok: false, reason: callReason(answer.error, signal.aborted), message: answer.error.message };
      }
      transcript.add({ type: 'response', call: n, ms: Date.now() - started, cost_usd: spent.cost, message: answer.message });
      this.#hooks.journal?.({ type: 'model_answer', ...ref, call_id: callId, key: callKeyText(key), request_hash: requestHash(request), message: answer.message });
      return { ok: true, message: answer.message, usage: spent.usage, cost_usd: spent.cost, exhausted };
    };

    const provider = async (request: ModelRequest, options: CallOptions): Promise<CallResult> => {
      const got = await this.#provider(providerName);
      if (!got.ok) return { ok: false, error: got.error };
      return got.provider.call(request, options);
    };

    const call = async (request: ModelRequest, options: CallOptionsLite = {}): Promise<ModelCallResult> => {
      const group = options.key ? `${options.key.scenario}\u0000${options.key.run ?? 1}` : '';
      const n = (counters.get(group) ?? 0) + 1;
      counters.set(group, n);
      const key: CallKey = { stage: node.path, iteration: iteration ?? 0, call: n, ...(options.key ? { scenario: options.key.scenario, run: options.key.run ?? 1 } : {}) };
      if (signal.aborted) return { ok: false, reason: { kind: 'cancelled' }, message: 'the model call was cancelled' };
      const made = await this.#provider(providerName);
      if (!made.ok) return { ok: false, reason: { kind: 'provider', cause: made.error.kind }, message: made.error.message };
      // An answer a killed run already received (and paid for) is taken from its journal.
      const recorded = this.#answers.take(callKeyText(key), requestHash(request));
      if (recorded) {
        transcript.add({ type: 'response', call: n, ms: 0, cost_usd: 0, from_record: true, message: recorded });
        return { ok: true, message: recorded, usage: { ...ZERO_USAGE }, cost_usd: 0 };
      }
      let sent = request;
      for (let round = 1; ; round++) {
        const reserved = await reserveFor(sent, n);
        if (!reserved.ok) return { ok: false, reason: reserved.reason, message: reserved.message };
        if (reserved.maxTokens < sent.max_tokens) sent = { ...sent, max_tokens: reserved.maxTokens };
        const got = await send(sent, key, n, reserved.hold, options);
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
            return { ok: false, reason: budgetReason(still), message: `${this.describeExhausted(still, false)}${why ? `; ${why}` : ''}`, response: answer };
          }
        }
        return { ok: true, message: answer, usage: got.usage, cost_usd: got.cost_usd };
      }
    };

    return {
      provider: providerName,
      model,
      maxTokens: stageSetting(owners, node, 'max_tokens') ?? DEFAULT_MAX_TOKENS,
      temperature: stageSetting(owners, node, 'temperature'),
      effort: stageSetting(owners, node, 'effort'),
      thinking: stageSetting(owners, node, 'thinking'),
      profileSystem: (node.def as { system?: string }).system === undefined ? stageProfile(owners, node)?.settings.system : undefined,
      holdout: this.holdout,
      holdoutGlobs: prepared.holdoutGlobs,
      call,
      charge: (usage, cost, callModel) => {
        const m = callModel ?? model;
        const priced = cost ?? (m === undefined ? undefined : costOf(m, usage, prepared.pricing)) ?? 0;
        transcript.add({ type: 'charge', usage, cost_usd: priced });
        return charge(usage, priced, m);
      },
      note: (entry) => transcript.add(entry),
      writePrompt: (text) => transcript.prompt(text),
      flush: () => transcript.flush(),
      ledger: () => account.ledger,
      ledgerFor: (scopePath) => this.ledgerFor(scopePath),
      runStart: () => this.runStart(),
      snapshot: () => this.#hooks.snapshots?.now() ?? this.takeSnapshot(this.#runStart),
      describeExhausted: (e, refused) => this.describeExhausted(e, refused),
    };
  }

  async #provider(name: ProviderName): Promise<{ ok: true; provider: Provider } | { ok: false; error: ProviderError }> {
    const prepared = this.#prepared;
    const have = prepared.providers.get(name);
    if (have) return { ok: true, provider: have };
    // A provider no stage named before the run (a judge's): made now, without preflight.
    const lib = await import('../../providers/index.js');
    const made = lib.createProvider(
      name,
      { dir: prepared.pipeline.dir, providers: prepared.pipeline.config.providers, pricing: prepared.pipeline.config.pricing, cassette: prepared.flags.replay, recorder: prepared.recorder, cwd: prepared.cwd },
      prepared.env,
    );
    if (made.ok) prepared.providers.set(name, made.provider);
    return made;
  }
}

function warningFields(w: BudgetWarning): { budget: string; spent: number; limit: number } {
  return { budget: w.scope === 'run' ? w.budget : `${w.budget} of ${w.scope}`, spent: w.spent, limit: w.limit };
}

function needsRunStartSnapshot(pipeline: Pipeline): boolean {
  let needed = false;
  walk(pipeline.root, (node) => {
    if (node.kind === 'review' && (node.def as { diff?: boolean }).diff !== false) needed = true;
  });
  return needed;
}

/** Prompt tokens of a request, estimated as characters / 4 (what a budget must hold before the call). */
export function estimateTokens(request: Pick<ModelRequest, 'system' | 'messages' | 'tools'>): number {
  const chars = JSON.stringify(request.system ?? '').length + JSON.stringify(request.messages).length + JSON.stringify(request.tools ?? []).length;
  return Math.ceil(chars / 4);
}

export type { JsonValue };
