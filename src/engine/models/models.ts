import { sameIteration, type Iteration } from '../../records/iteration.js';
import path from 'node:path';
import { createDenyMatcher, type Matcher } from '../../workspace/matcher.js';
import type { ProviderName } from '../../config/generated/factory.js';
import { ownersOf, stageProfile, stageSetting } from '../../config/stage-model.js';
import type { JsonValue, Pipeline, StageNode } from '../../config/pipeline.js';
import { costOf } from '../../config/pricing.js';
import type { CassetteRecorder } from '../../providers/replay/record.js';
import { redactor } from '../../providers/redact.js';
import { requestTokenUpperBound } from '../../providers/token-estimate.js';
import { type ModelRequest, type ModelResponse, type Provider, type ProviderError } from '../../providers/types.js';
import { sumSpend, type PriorSpend, type SpendEntry } from '../../records/spend.js';
import { stageBase, stagesDir } from '../../records/paths.js';
import type { StageBudget } from '../../config/generated/factory.js';
import type { Approvals } from '../approvals/approvals.js';
import { BudgetLedger, budgetLimits, type Exhausted } from '../budget/budget.js';
import { amount, type BudgetQuestionContext, type BudgetRaise } from '../budget/budget-ask.js';
import { RecordedAnswers } from './recorded-answers.js';
import { takeSnapshot, type Snapshot } from '../../workspace/snapshot.js';
import { addUsage } from '../../base/usage.js';
import { ZERO_USAGE, type Usage } from '../../base/usage.js';
import { ancestorsOf, findNode, walk } from './stage-tree.js';
import { withoutInstances } from '../../config/fanout.js';
import { TranscriptWriter } from './transcript.js';
import { StageCalls, type Account, type CallRuntime, type ModelJournalEventBody } from './stage-calls.js';
import { DEFAULT_MAX_TOKENS, type ModelServices } from './services.js';
import { modelOf, providerOf, type PreparedModels } from './preflight.js';

export type { ModelJournalEventBody };


/** What the runtime needs from the run. */
export interface RuntimeHooks {
  /** Emits model_call and budget_warning (time and run added by the caller). */
  emit(event: { type: 'model_call'; stage: string; iteration?: Iteration; model: string; usage: Usage; cost_usd: number; call_id?: string; error?: string; provider?: string; response_model?: string; duration_ms?: number } | { type: 'budget_warning'; stage: string; iteration?: Iteration; budget: string; spent: number; limit: number }): void;
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
    // A fan-out stage's budget covers all its instances (section 13): `attempt[2]` spends from `attempt`'s.
    const base = withoutInstances(scopePath);
    if (base !== scopePath) {
      const shared = this.ledgerFor(base);
      this.#scopes.set(scopePath, shared);
      return shared;
    }
    const node = findNode(this.#prepared.pipeline.root, scopePath);
    const parentPath = scopePath.includes('.') ? scopePath.slice(0, scopePath.lastIndexOf('.')) : '';
    const parent = this.ledgerFor(parentPath);
    const budget = (node?.def as { budget?: Parameters<typeof budgetLimits>[0] } | undefined)?.budget;
    const ledger = budget ? this.#seeded(parent.child(scopePath, budgetLimits(budget)), (e) => e.stage === scopePath || e.stage.startsWith(`${scopePath}.`) || e.stage.startsWith(`${scopePath}[`)) : parent;
    this.#scopes.set(scopePath, ledger);
    return ledger;
  }

  #account(node: StageNode, iteration: Iteration | undefined): Account {
    const key = stageBase(node.path, iteration);
    let account = this.#accounts.get(key);
    if (!account) {
      const parentPath = node.path.includes('.') ? node.path.slice(0, node.path.lastIndexOf('.')) : '';
      const parent = this.ledgerFor(parentPath);
      const budget = (node.def as { budget?: Parameters<typeof budgetLimits>[0] }).budget;
      const instance = withoutInstances(node.path) !== node.path;
      const ledger = budget && instance ? this.ledgerFor(node.path) : budget ? this.#seeded(parent.child(node.path, budgetLimits(budget)), (e) => e.stage === node.path && sameIteration(e.iteration, iteration)) : parent;
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
  spentBy(stagePath: string, iteration?: Iteration): { usage: Usage; cost_usd: number } | undefined {
    const usage = { ...ZERO_USAGE };
    let cost = 0;
    let any = false;
    for (const a of this.#accounts.values()) {
      const own = a.path === stagePath && sameIteration(a.iteration, iteration);
      const nested = a.path.startsWith(`${stagePath}.`);
      if (!own && !nested) continue;
      any = true;
      addUsage(usage, a.usage);
      cost += a.cost;
    }
    return any ? { usage, cost_usd: cost } : undefined;
  }

  /** `budget raised: tokens of "gen" by 1,000 tokens to 2,000 tokens (approved by ada)`, for a stage's message; undefined when none was. */
  raisedFor(stagePath: string, iteration?: Iteration): string | undefined {
    const raises = this.#accounts.get(stageBase(stagePath, iteration))?.raises ?? [];
    if (raises.length === 0) return undefined;
    const one = (r: BudgetRaise) => `${r.budget} of "${r.scope}" by ${amount(r.budget, r.by)} to ${amount(r.budget, r.limit)} (approved by ${r.approvedBy ?? 'someone'})`;
    return `budget raised: ${raises.map(one).join('; ')}`;
  }

  describeExhausted(e: Exhausted, refused: boolean): string {
    const who = e.scope === 'run' ? 'the run' : `stage "${e.scope}"`;
    // One way of writing an amount, the budget question's (budget-ask.ts), so a figure reads the same in both.
    const figures = `${amount(e.budget, e.spent)} spent of ${amount(e.budget, e.limit)}`;
    if (refused && e.needed !== undefined) return `the ${e.budget} budget of ${who} cannot pay for another model call: ${figures}, the call needs at least ${amount(e.budget, e.needed)}`;
    return `the ${e.budget} budget of ${who} is exhausted: ${figures}`;
  }

  /** The services of one attempt of one stage. */
  forStage(node: StageNode, iteration: Iteration | undefined, attempt: number, signal: AbortSignal): ModelServices {
    const prepared = this.#prepared;
    const owners = ownersOf(prepared.pipeline, ancestorsOf(prepared.pipeline.root, node.path));
    const account = this.#account(node, iteration);
    const providerName = providerOf(owners, node, prepared.flags);
    const model = modelOf(owners, node);
    const transcript = new TranscriptWriter(
      path.join(stagesDir(this.#hooks.recordDir), stageBase(node.path, iteration)),
      (v) => this.redact(v),
      (t) => this.redactText(t),
    );
    transcript.header = { type: 'attempt', attempt, time: new Date().toISOString() };
    const budgetQuestion = this.#budgetQuestion(node, iteration, signal, account, transcript);
    const calls = new StageCalls(this.#callRuntime, { node, iteration, signal, account, provider: providerName, model, transcript, budgetQuestion });

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
      call: (request, options) => calls.call(request, options),
      charge: (usage, cost, callModel) => {
        const m = callModel ?? model;
        const priced = cost ?? (m === undefined ? undefined : costOf(m, usage, prepared.pricing)) ?? 0;
        transcript.add({ type: 'charge', usage, cost_usd: priced });
        return calls.charge(usage, priced, m);
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

  /** How a stage asks a human to raise a budget (`on_exhausted: ask`); undefined when the run cannot ask. */
  #budgetQuestion(node: StageNode, iteration: Iteration | undefined, signal: AbortSignal, account: Account, transcript: TranscriptWriter): BudgetQuestionContext | undefined {
    const approvals = this.#hooks.approvals;
    if (!approvals) return undefined;
    return {
      approvals,
      stage: node.path,
      iteration,
      signal,
      ledger: account.ledger,
      budgetOf: (scope) => (findNode(this.#prepared.pipeline.root, scope)?.def as { budget?: StageBudget } | undefined)?.budget,
      describe: (e, refused) => this.describeExhausted(e, refused),
      nextQuestion: () => ++account.questions,
      raised: (raise) => {
        account.raises.push(raise);
        transcript.add({ type: 'budget_raised', ...raise });
      },
    };
  }

  /** What each stage's calls use of this runtime (stage-calls.ts). */
  get #callRuntime(): CallRuntime {
    return {
      pricing: this.#prepared.pricing,
      emit: (event) => this.#hooks.emit(event),
      journal: (event) => this.#hooks.journal?.(event),
      spent: () => this.#hooks.onSpend(this.runLedger.context()),
      nextCallId: () => this.#nextCallId(),
      provider: (name) => this.#provider(name),
      promptTokens: (request, ledger, name, signal) => this.#promptTokens(request, ledger, name, signal),
      recordedAnswer: (key, hash) => this.#answers.take(key, hash),
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
