import type { Iteration } from '../../records/iteration.js';
import type { StageBudget } from '../../config/generated/factory.js';
import { durationMs } from '../../config/units.js';
import type { ModelRequest, ModelResponse } from '../../providers/types.js';
import type { Approvals, ShownValue } from '../approvals/approvals.js';
import { budgetLimits, type BudgetLedger, type BudgetLimits, type BudgetName, type Exhausted } from './budget.js';
import { durationAsWritten } from '../../base/duration.js';

/**
 * `budget.on_exhausted: ask` (docs/models-and-budgets.md): where `stop` would end the stage, ask a human to
 * raise the budget that ran out by `budget.extend` (default: its original limits), showing
 * spent against limit and what the stage was about to do. Approved: the limit is raised and the
 * call goes on. Rejected, timed out (`budget.timeout`; default no limit on a terminal, 1h
 * elsewhere) or interrupted: the caller ends as with `stop`. The wall clocks of the stage and
 * every scope around it stand still while the question waits.
 */

/** Without `budget.timeout`, a question off a terminal waits this long. */
export const DEFAULT_BUDGET_TIMEOUT_MS = 60 * 60 * 1000;

export interface BudgetQuestionContext {
  approvals: Approvals;
  stage: string;
  iteration: Iteration | undefined;
  signal: AbortSignal;
  /** The asking stage's ledger; its chain holds the scope that ran out. */
  ledger: BudgetLedger;
  /** The `budget:` block of a stage or loop by its dotted path. */
  budgetOf(scope: string): StageBudget | undefined;
  describe(e: Exhausted, refused: boolean): string;
  /** Numbers the stage's budget questions. */
  nextQuestion(): number;
  /** Notes a raise in the stage's transcript and record. */
  raised(raise: BudgetRaise): void;
}

export interface BudgetRaise {
  scope: string;
  budget: BudgetName;
  /** The raise, in the budget's unit (tokens, USD, ms). */
  by: number;
  /** The new limit. */
  limit: number;
  approvedBy: string | null;
  at: string;
  comment: string | null;
}

export type AskOutcome = { raised: true } | { raised: false; why?: string };

/** One question per budget at a time: stages that run out of the same loop budget together share it. */
const inFlight = new WeakMap<BudgetLedger, Promise<AskOutcome>>();

export async function askToRaise(q: BudgetQuestionContext | undefined, e: Exhausted, refused: boolean, doing: string): Promise<AskOutcome> {
  if (!q || e.scope === 'run') return { raised: false };
  const block = q.budgetOf(e.scope);
  if (block?.on_exhausted !== 'ask') return { raised: false };
  const scope = q.ledger.chain().find((l) => l.scope === e.scope);
  if (!scope) return { raised: false };
  const pending = inFlight.get(scope);
  if (pending) return pending;
  const asked = ask(q, scope, block, e, refused, doing);
  inFlight.set(scope, asked);
  try {
    return await asked;
  } finally {
    inFlight.delete(scope);
  }
}

async function ask(q: BudgetQuestionContext, scope: BudgetLedger, block: StageBudget, e: Exhausted, refused: boolean, doing: string): Promise<AskOutcome> {
  const extension = extensionOf(block, e.budget);
  const key = limitKey(e.budget);
  const by = extension[key] ?? e.limit;
  const who = e.scope === q.stage ? `stage "${e.scope}"` : `"${e.scope}"`;
  const message = `${q.describe(e, refused)}. Raise the ${e.budget} budget of ${who} by ${amount(e.budget, by)} (to ${amount(e.budget, e.limit + by)}) and go on?`;
  const show: ShownValue[] = [
    { label: 'spent', value: `${amount(e.budget, e.spent)} of ${amount(e.budget, e.limit)}` },
    { label: 'raise by', value: describeExtension(extension) },
    { label: 'next', value: doing },
  ];
  const timeout = typeof block.timeout === 'string' ? durationMs(block.timeout) : undefined;
  const decision = await q.approvals.forStage(q.stage, q.iteration).ask(
    {
      kind: 'budget',
      message,
      show,
      timeoutMs: timeout ?? (q.approvals.interactive ? undefined : DEFAULT_BUDGET_TIMEOUT_MS),
      budgetQuestion: q.nextQuestion(),
      reuse: false,
      pause: () => {
        q.ledger.pause();
        return () => q.ledger.resume();
      },
    },
    q.signal,
  );
  if (decision.status === 'cancelled') return { raised: false, why: 'interrupted while asking to raise it' };
  if (decision.status === 'timeout') return { raised: false, why: `no answer to raising it within ${durationAsWritten(decision.afterMs)}` };
  if (decision.status === 'unreadable') return { raised: false, why: decision.error };
  const a = decision.answer;
  if (!a.approved) return { raised: false, why: `raising it was rejected by ${a.by ?? 'someone'}${a.comment ? `: ${a.comment}` : ''}` };
  scope.extend(extension);
  q.raised({ scope: e.scope, budget: e.budget, by, limit: scope.limits[key] ?? e.limit + by, approvedBy: a.by, at: a.at, comment: a.comment });
  return { raised: true };
}

/** `extend:` as written, or the original limits; the budget that ran out is always raised. */
function extensionOf(block: StageBudget, exhausted: BudgetName): Omit<BudgetLimits, 'warn_at'> {
  const original = budgetLimits(block);
  const given = block.extend ? budgetLimits(block.extend) : undefined;
  const out: Omit<BudgetLimits, 'warn_at'> = given
    ? { tokens: given.tokens, cost_usd: given.cost_usd, wall_time_ms: given.wall_time_ms }
    : { tokens: original.tokens, cost_usd: original.cost_usd, wall_time_ms: original.wall_time_ms };
  const key = limitKey(exhausted);
  if (out[key] === undefined) out[key] = original[key];
  return out;
}

function limitKey(budget: BudgetName): 'tokens' | 'cost_usd' | 'wall_time_ms' {
  return budget === 'wall_time' ? 'wall_time_ms' : budget;
}

export function amount(budget: BudgetName, value: number): string {
  if (budget === 'cost_usd') return `$${value.toFixed(4)}`;
  if (budget === 'wall_time') return durationAsWritten(value);
  return `${Math.round(value).toLocaleString('en-US')} tokens`;
}

function describeExtension(ext: Omit<BudgetLimits, 'warn_at'>): string {
  const parts: string[] = [];
  if (ext.tokens !== undefined) parts.push(amount('tokens', ext.tokens));
  if (ext.cost_usd !== undefined) parts.push(amount('cost_usd', ext.cost_usd));
  if (ext.wall_time_ms !== undefined) parts.push(amount('wall_time', ext.wall_time_ms));
  return parts.join(', ');
}

/** A call the budget refused: which call, what it would have sent. */
export function describeRefusedCall(call: number, request: ModelRequest, promptTokens: number): string {
  const after = toolsAsked(lastAssistant(request));
  const what = `model call ${call} (${request.model}, about ${promptTokens.toLocaleString('en-US')} prompt tokens, up to ${request.max_tokens.toLocaleString('en-US')} output tokens)`;
  return after.length ? `${what}, sending the results of ${after.join(', ')}` : what;
}

/** A call answered and charged past the budget: what the stage would do with the answer. */
export function describeAnswer(response: ModelResponse): string {
  const tools = response.content.filter((b) => b.type === 'tool_use').map((b) => toolCall(b.name, b.input));
  if (tools.length) return `run the tools the model asked for: ${tools.join(', ')}`;
  const text = response.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  return `finish with the model's answer (${text.length.toLocaleString('en-US')} characters)`;
}

function lastAssistant(request: ModelRequest): unknown[] {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!;
    if (m.role === 'assistant') return Array.isArray(m.content) ? m.content : [];
  }
  return [];
}

function toolsAsked(content: unknown[]): string[] {
  return content.flatMap((b) => {
    const block = b as { type?: string; name?: string; input?: unknown };
    return block.type === 'tool_use' && typeof block.name === 'string' ? [toolCall(block.name, block.input)] : [];
  });
}

function toolCall(name: string, input: unknown): string {
  const i = (input ?? {}) as { path?: unknown; command?: unknown };
  const arg = typeof i.path === 'string' ? i.path : typeof i.command === 'string' ? i.command : undefined;
  return arg === undefined ? name : `${name}(${arg.length > 60 ? `${arg.slice(0, 57)}...` : arg})`;
}
