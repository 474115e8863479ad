import { type Matcher } from '../../workspace/matcher.js';
import type { ProviderName } from '../../config/generated/factory.js';
import type { Effort, Thinking } from '../../config/generated/factory.js';
import { type ModelRequest, type ModelResponse } from '../../providers/types.js';
import { BudgetLedger, type Exhausted } from '../budget/budget.js';
import { type ModelCallReason } from '../../records/reasons.js';
import { type Snapshot } from '../../workspace/snapshot.js';
import { type Usage } from '../../base/usage.js';

/** What a model stage may ask of the engine (StageContext.models), and the flags that choose providers. */

/**
 * Model services of a run: the providers (set up and checked before any stage starts), the
 * budget ledgers (the run's, each loop's, each stage's), and for every model stage a
 * `ModelServices` that numbers its calls, reserves and charges the budget, emits `model_call`
 * and `budget_warning`, and writes the stage's prompt and transcript beside run.json with
 * secrets redacted. Stage executors reach it through `StageContext.models`.
 */

export const DEFAULT_MAX_TOKENS = 8192;

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
      /** `output`: the answer was cut off at max_tokens; `config`: a cassette without this answer, which no retry changes; `budget`: refused or exhausted, never a provider error. */
      reason: ModelCallReason;
      message: string;
      /** When the call was answered and then exhausted a budget (or was cut off): the answer. */
      response?: ModelResponse;
    };

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
  /** One model call: numbered, budgeted, charged, recorded. Never throws. The agent loop takes the services as its model through this. */
  call(request: ModelRequest, options?: CallOptionsLite): Promise<ModelCallResult>;
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
