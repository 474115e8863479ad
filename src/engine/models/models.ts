import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { createDenyMatcher, type Matcher } from '../../workspace/matcher.js';
import type { ProviderName } from '../../config/generated/factory.js';
import { ownersOf, stageModel, stageProfile, stageProvider, stageSetting } from '../../config/stage-model.js';
import type { Effort, Thinking } from '../../config/generated/factory.js';
import type { JsonValue, Pipeline, Scope, StageNode } from '../../config/pipeline.js';
import { renderValue } from '../../expr/index.js';
import { costOf, nearestModel, priceOf, pricingTable, type PricingTable } from '../../config/pricing.js';
import type { CassetteRecorder } from '../../providers/replay/record.js';
import { redactor } from '../../providers/redact.js';
import { requestTokenUpperBound } from '../../providers/token-estimate.js';
import { usageOf, type CallKey, type CallOptions, type CallResult, type ModelRequest, type ModelResponse, type Provider, type ProviderError } from '../../providers/types.js';
import { writeFileAtomicAsync } from '../../records/atomic.js';
import { sumSpend, type PriorSpend, type SpendEntry } from '../../records/spend.js';
import { stagesDir } from '../../records/paths.js';
import type { StageBudget } from '../../config/generated/factory.js';
import type { Approvals } from '../approvals/approvals.js';
import { BudgetLedger, budgetLimits, type BudgetWarning, type Exhausted, type Hold } from '../budget/budget.js';
import { untilOrAborted, wallDeadline } from '../schedule/wall-deadline.js';
import { amount, askToRaise, describeAnswer, describeRefusedCall, type BudgetQuestionContext, type BudgetRaise } from '../budget/budget-ask.js';
import { type ModelJournalEvent } from '../../records/events.js';
import { RecordedAnswers, callKeyText, requestHash } from './recorded-answers.js';
import { takeSnapshot, type Snapshot } from '../../workspace/snapshot.js';
import { addUsage } from '../../base/usage.js';
import { ZERO_USAGE, type Usage } from '../../base/usage.js';

/**
 * Model services of a run: the providers (set up and checked before any stage starts), the
 * budget ledgers (the run's, each loop's, each stage's), and for every model stage a
 * `ModelServices` that numbers its calls, reserves and charges the budget, emits `model_call`
 * and `budget_warning`, and writes the stage's prompt and transcript beside run.json with
 * secrets redacted. Stage executors reach it through `StageContext.models`.
 */

export const DEFAULT_MAX_TOKENS = 8192;
/** Kinds that call a model through a provider (a generate with `agent:` does not). */
const MODEL_KINDS = new Set(['plan', 'generate', 'review']);

/** `apply --provider`, `--replay FILE`, `--record FILE` (files absolute). */
export interface ModelFlags {
  provider?: ProviderName;
  replay?: string;
  record?: string;
}

export type ModelCallResult =
  | { ok: true; message: ModelResponse; usage: Usage; cost_usd: number }
  | {
      ok: false;
      /** `output`: the answer was cut off at max_tokens; `config`: a cassette without this answer, which no retry changes. */
      reason: 'provider' | 'budget' | 'cancelled' | 'output' | 'config';
      message: string;
      error?: ProviderError;
      /** When the call was answered and then exhausted a budget (or was cut off): the answer. */
      response?: ModelResponse;
    };

/** One request's end, before the engine decides what its answer is worth. */
type Sent =
  | { ok: true; message: ModelResponse; usage: Usage; cost_usd: number; exhausted: Exhausted | undefined }
  | (ModelCallResult & { ok: false });

export interface CallOptionsLite {
  onText?: (chunk: string) => void;
  /** A judge's calls are numbered per scenario and run (docs/running.md). */
  key?: { scenario: string; run?: number };
}

/** What a model stage may ask of the engine (StageContext.models). */
export interface ModelServices {
  readonly provider: ProviderName;
  /** The stage's model (for scenario-validate: its judge_model), or undefined when none is set anywhere. */
  readonly model: string | undefined;
  readonly maxTokens: number;
  readonly temperature: number | undefined;
  readonly effort: Effort | undefined;
  readonly thinking: Thinking | undefined;
  /** The system prompt of the stage's profile, for a stage that writes none (rendered like the stage's own). */
  readonly profileSystem: string | undefined;
  /** Deny globs of every model stage: the defaults (.git, .factory, .env) and every scenario glob of the pipeline. */
  readonly holdout: Matcher;
  readonly holdoutGlobs: readonly string[];
  /** One model call: numbered, budgeted, charged, recorded. Never throws. */
  call(request: ModelRequest, options?: CallOptionsLite): Promise<ModelCallResult>;
  /** The same as a Provider, for the agent loop; a budget refusal comes back as an error whose `budget` is set. */
  asProvider(): Provider;
  /** Charges usage measured elsewhere (an external agent); returns an exhausted budget, if any. */
  charge(usage: Usage, cost: number | undefined, model?: string): Exhausted | undefined;
  /** Adds an entry (a tool call, a tool result, a note) to the transcript. */
  note(entry: Record<string, unknown>): void;
  /** Writes the stage's prompt file (what it asked, for people). */
  writePrompt(text: string): void;
  /** Waits for the transcript and prompt to be written. */
  flush(): Promise<void>;
  /** The stage's ledger (its budget inside its loop's and the run's). */
  ledger(): BudgetLedger;
  /** The ledger of a scope (a loop), created on first use with its `budget:`. */
  ledgerFor(scopePath: string): BudgetLedger;
  /** The workspace as it was when the run started (when a review needs it). */
  runStart(): Snapshot;
  /** The workspace now. */
  snapshot(): Snapshot;
  /** A message naming the budget, spent against limit. */
  describeExhausted(e: Exhausted, refused: boolean): string;
}

/**
 * The error a budget refusal or a cut-off answer takes when it goes through the Provider
 * interface (to the agent loop): `stageReason` says how the stage ends.
 */
export type EngineError = ProviderError & { stageReason: 'budget' | 'output' };

export function stageReasonOf(e: ProviderError | undefined): 'budget' | 'output' | undefined {
  return (e as Partial<EngineError> | undefined)?.stageReason;
}

interface ModelUse {
  path: string;
  provider: ProviderName;
  model: string | undefined;
}

/** Everything that runs model stages, checked before any stage starts. */
export class PreparedModels {
  constructor(
    readonly pipeline: Pipeline,
    readonly flags: ModelFlags,
    readonly pricing: PricingTable,
    readonly providers: Map<ProviderName, Provider>,
    readonly recorder: CassetteRecorder | undefined,
    readonly holdoutGlobs: string[],
    readonly env: Readonly<NodeJS.ProcessEnv>,
    readonly cwd: string,
  ) {}
}

export type Prepared = { ok: true; models: PreparedModels } | { ok: false; message: string };

export interface PrepareOptions {
  flags: ModelFlags;
  env: Readonly<NodeJS.ProcessEnv>;
  signal: AbortSignal;
  /** Top-level ids that will run; the others need no provider. */
  planned?: ReadonlySet<string>;
  /** Keep the calls already in the --record file (a resumed run). */
  keepRecorded?: boolean;
  /** Top-level ids the cache is expected to answer: their models are not preflighted (a miss calls without the check). */
  skipPreflight?: ReadonlySet<string>;
  cwd?: string;
}

/** The provider a stage uses: --replay, then --provider, then the stage's, then defaults' (config/stage-model.ts), then anthropic. */
export function providerOf(owners: readonly Pipeline[], node: StageNode, flags: ModelFlags): ProviderName {
  if (flags.replay !== undefined) return 'replay';
  if (flags.provider !== undefined) return flags.provider;
  return stageProvider(owners, node);
}

export function modelOf(pipeline: Pipeline | readonly Pipeline[], node: StageNode): string | undefined {
  return stageModel(Array.isArray(pipeline) ? pipeline : [pipeline as Pipeline], node);
}

function walk(scope: Scope, visit: (node: StageNode, ancestors: StageNode[]) => void, ancestors: StageNode[] = []): void {
  for (const node of scope.stages) {
    visit(node, ancestors);
    if (node.body) walk(node.body, visit, [...ancestors, node]);
  }
}

function ancestorsOf(root: Scope, dotted: string): StageNode[] {
  const out: StageNode[] = [];
  let scope: Scope | undefined = root;
  const ids = dotted.split('.');
  for (const id of ids.slice(0, -1)) {
    const node: StageNode | undefined = scope?.byId.get(id);
    if (!node) break;
    out.push(node);
    scope = node.body;
  }
  return out;
}

/** Every scenario glob of the pipeline (params rendered), the holdout hidden from every model stage. */
export function scenarioGlobs(pipeline: Pipeline): string[] {
  const out: string[] = [];
  walk(pipeline.root, (node) => {
    if (node.kind !== 'scenario-validate') return;
    const raw = (node.def as { scenarios?: string | string[] }).scenarios;
    for (const pattern of typeof raw === 'string' ? [raw] : (raw ?? [])) {
      if (!pattern.includes('${{')) {
        out.push(pattern);
        continue;
      }
      const r = renderValue(pattern, { contexts: { params: pipeline.params } });
      if (r.ok && typeof r.value === 'string') out.push(r.value);
    }
  });
  return [...new Set(out)];
}

/**
 * Before any stage: providers made and checked (key, endpoint, models; cassette), a model for
 * every model stage, and a price for every model under a `cost_usd` budget. Problems come back
 * as one message (exit 2).
 */
export async function prepareModels(pipeline: Pipeline, options: PrepareOptions): Promise<Prepared> {
  const { flags, env } = options;
  const pricing = pricingTable(pipeline.config.pricing);
  const uses: ModelUse[] = [];
  const problems: string[] = [];
  const runCost = (pipeline.config.budget as { cost_usd?: unknown } | undefined)?.cost_usd;
  walk(pipeline.root, (node, ancestors) => {
    const top = ancestors[0] ?? node;
    if (options.planned && !options.planned.has(top.id)) return;
    const def = node.def as { agent?: unknown; judge_model?: string; budget?: { cost_usd?: unknown } };
    const isModel = MODEL_KINDS.has(node.kind) && !(node.kind === 'generate' && def.agent !== undefined);
    const isJudge = node.kind === 'scenario-validate' && def.judge_model !== undefined;
    if (!isModel && !isJudge) return;
    const owners = ownersOf(pipeline, ancestors);
    const model = modelOf(owners, node);
    if (model === undefined) {
      problems.push(`stage "${node.path}" (${node.kind}) names no model: set \`model:\` on it or \`defaults.model\``);
      return;
    }
    if (!options.skipPreflight?.has(top.id)) uses.push({ path: node.path, provider: providerOf(owners, node, flags), model });
    const costScope = [node, ...[...ancestors].reverse()].find((n) => typeof (n.def as { budget?: { cost_usd?: unknown } }).budget?.cost_usd === 'number');
    const scope = costScope ? `stage "${costScope.path}"` : typeof runCost === 'number' ? 'the run' : undefined;
    if (scope && !priceOf(model, pricing)) {
      const near = nearestModel(model, pricing);
      problems.push(
        `stage "${node.path}" uses the model "${model}", which the pricing table does not price, under the cost_usd budget of ${scope}: ` +
          `add \`pricing: { ${model}: { input: …, output: … } }\` (USD per million tokens) to ${pipeline.file}${near ? ` (or did you mean "${near}"?)` : ''}`,
      );
    }
  });
  if (problems.length > 0) return { ok: false, message: problems.join('\n') };

  const holdoutGlobs = scenarioGlobs(pipeline);
  const providers = new Map<ProviderName, Provider>();
  let recorder: CassetteRecorder | undefined;
  const cwd = options.cwd ?? process.cwd();
  if (uses.length > 0 || flags.record !== undefined) {
    const lib = await import('../../providers/index.js');
    if (flags.record !== undefined) recorder = new lib.CassetteRecorder(flags.record, { env, cwd, keep: options.keepRecorded === true });
    const byProvider = new Map<ProviderName, Set<string>>();
    const stagesOf = new Map<ProviderName, string[]>();
    for (const u of uses) {
      const set = byProvider.get(u.provider) ?? new Set<string>();
      if (u.model !== undefined) set.add(u.model);
      byProvider.set(u.provider, set);
      stagesOf.set(u.provider, [...(stagesOf.get(u.provider) ?? []), u.path]);
    }
    for (const [name, models] of byProvider) {
      const made = lib.createProvider(
        name,
        { dir: pipeline.dir, providers: pipeline.config.providers, pricing: pipeline.config.pricing, cassette: flags.replay, recorder, cwd },
        env,
      );
      if (!made.ok) {
        problems.push(made.error.message);
        continue;
      }
      const found = await made.provider.preflight([...models], options.signal, stagesOf.get(name) ?? []);
      for (const p of found) problems.push(p.message);
      providers.set(name, made.provider);
    }
  }
  if (problems.length > 0) return { ok: false, message: [...new Set(problems)].join('\n') };
  return { ok: true, models: new PreparedModels(pipeline, flags, pricing, providers, recorder, holdoutGlobs, env, cwd) };
}

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
    const reserveFor = async (request: ModelRequest, n: number): Promise<{ ok: true; maxTokens: number; hold: Hold } | { ok: false; message: string }> => {
      const estimate = { model: request.model, maxTokens: request.max_tokens, promptTokens: await this.#promptTokens(request, account.ledger, providerName, signal) };
      for (;;) {
        const reservation = account.ledger.reserve(estimate);
        if (reservation.ok) return reservation;
        if (reservation.wait) {
          if (!(await untilOrAborted(reservation.wait, signal))) return { ok: false, message: 'the model call was cancelled while it waited for the budget' };
          continue;
        }
        // `on_exhausted: ask`: a human may raise the budget instead; each raise is checked again.
        const asked = await askToRaise(budgetQuestion, reservation.exhausted, true, describeRefusedCall(n, request, estimate.promptTokens));
        if (asked.raised) continue;
        const message = `${this.describeExhausted(reservation.exhausted, true)}${asked.why ? `; ${asked.why}` : ''}`;
        transcript.add({ type: 'refused', call: n, reason: 'budget', message });
        return { ok: false, message };
      }
    };

    /** One request under a hold: usage charged as the provider reports it, the hold released at the end. */
    const send = async (request: ModelRequest, key: CallKey, n: number, hold: Hold, options: CallOptionsLite): Promise<Sent> => {
      const callId = this.#nextCallId();
      const spent = { usage: { ...ZERO_USAGE }, cost: 0, reported: false };
      let exhausted: Exhausted | undefined;
      const spend = (increment: Usage) => {
        const before = spent.cost;
        addUsage(spent.usage, increment);
        // Priced on the whole call so far: a long prompt's rates apply to all of it.
        spent.cost = costOf(request.model, spent.usage, prepared.pricing) ?? 0;
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
      hold.release();
      const wallTime = deadline.exhausted();
      const error = !answer.ok ? answer.error.message : undefined;
      this.#hooks.emit({ type: 'model_call', ...ref, model: request.model, usage: spent.usage, cost_usd: spent.cost, call_id: callId, ...(error ? { error } : {}) });
      for (const w of account.ledger.warnings()) this.#hooks.emit({ type: 'budget_warning', ...ref, ...warningFields(w) });
      this.#hooks.onSpend(this.runLedger.context());
      if (wallTime) {
        transcript.add({ type: 'error', call: n, kind: 'budget', message: this.describeExhausted(wallTime, false) });
        return { ok: false, reason: 'budget', message: `${this.describeExhausted(wallTime, false)}; the model call in flight was stopped` };
      }
      if (!answer.ok) {
        transcript.add({ type: 'error', call: n, kind: answer.error.kind, message: answer.error.message });
        const cancelled = answer.error.kind === 'aborted' || signal.aborted;
        return { ok: false, reason: cancelled ? 'cancelled' : answer.error.kind === 'cassette' ? 'config' : 'provider', message: answer.error.message, error: answer.error };
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
      if (signal.aborted) return { ok: false, reason: 'cancelled', message: 'the model call was cancelled' };
      const made = await this.#provider(providerName);
      if (!made.ok) return { ok: false, reason: 'provider', message: made.error.message, error: made.error };
      // An answer a killed run already received (and paid for) is taken from its journal.
      const recorded = this.#answers.take(callKeyText(key), requestHash(request));
      if (recorded) {
        transcript.add({ type: 'response', call: n, ms: 0, cost_usd: 0, from_record: true, message: recorded });
        return { ok: true, message: recorded, usage: { ...ZERO_USAGE }, cost_usd: 0 };
      }
      let sent = request;
      for (let round = 1; ; round++) {
        const reserved = await reserveFor(sent, n);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal can abort during the await; TypeScript keeps its narrowing from before
        if (!reserved.ok) return { ok: false, reason: signal.aborted ? 'cancelled' : 'budget', message: reserved.message };
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
          return { ok: false, reason: 'output', message: `the model's answer was cut off ${why}: raise max_tokens (or the budget) so the answer fits`, response: answer };
        }
        if (got.exhausted) {
          const asked = await askToRaise(budgetQuestion, got.exhausted, false, describeAnswer(answer));
          const still = asked.raised ? account.ledger.exhausted() : got.exhausted;
          if (still) {
            const why = asked.raised ? undefined : asked.why;
            return { ok: false, reason: 'budget', message: `${this.describeExhausted(still, false)}${why ? `; ${why}` : ''}`, response: answer };
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
      asProvider(): Provider {
        return {
          name: providerName,
          preflight: async () => [],
          async call(request, options) {
            const r = await call(request, options.onText ? { onText: options.onText } : {});
            if (r.ok) return { ok: true, message: r.message };
            if (r.reason === 'budget' || r.reason === 'output') return { ok: false, error: { kind: 'config', message: r.message, stageReason: r.reason } as EngineError };
            return { ok: false, error: r.error ?? { kind: r.reason === 'cancelled' ? 'aborted' : 'server', message: r.message } };
          },
        };
      },
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

function findNode(scope: Scope, dotted: string): StageNode | undefined {
  let current: Scope | undefined = scope;
  let node: StageNode | undefined;
  for (const id of dotted.split('.')) {
    node = current?.byId.get(id);
    if (!node) return undefined;
    current = node.body;
  }
  return node;
}

/** Prompt tokens of a request, estimated as characters / 4 (what a budget must hold before the call). */
export function estimateTokens(request: Pick<ModelRequest, 'system' | 'messages' | 'tools'>): number {
  const chars = JSON.stringify(request.system ?? '').length + JSON.stringify(request.messages).length + JSON.stringify(request.tools ?? []).length;
  return Math.ceil(chars / 4);
}


/**
 * `stages/<path>[@iteration].transcript.jsonl`: one JSON object a line, appended in order —
 * each request (an agent's later requests only with the messages added since the previous
 * one), each response, tool calls and results, retries and errors — and
 * `stages/<path>[@iteration].prompt.md`. Secrets are redacted before anything is written.
 */
class TranscriptWriter {
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

export type { JsonValue };
