import { expandMatrix, fanoutOf, fanoutText, renderPerCombination } from './fanout.js';
import type { Pipeline, Scope, StageNode } from './pipeline.js';
import { isAgentStage, LLM_KINDS, stageModel, stageProfile, stageProvider } from './stage-model.js';
import { durationMs, tokenCount } from './units.js';

/**
 * A read-only view of the resolved pipeline for `plan` and `graph`: stages in execution order
 * with what runs them. Nothing here calls a model or runs a command.
 */
export interface PlanRow {
  /** 1-based position in execution order; nested stages get `2.1`, `2.2`. */
  step: string;
  path: string;
  depth: number;
  kind: string;
  needs: string[];
  condition?: string;
  model?: string;
  provider?: string;
  /** The profile the stage takes its model settings from (`profile:` or `defaults.profile`). */
  profile?: string;
  maxIterations?: number;
  /** A fan-out stage: `matrix ×3` or `for_each ≤5`. */
  fanout?: string;
  timeout?: string;
  retries: number;
  budget?: BudgetView;
  /** The file that declared the stage. */
  from: string;
}

export interface BudgetView {
  tokens?: number;
  cost_usd?: number;
  wall_time_ms?: number;
}

/** What `plan` shows as the provider of a generate stage handed to an external agent. */
export const AGENT = 'agent';

export function budgetView(raw: unknown): BudgetView | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const b = raw as { tokens?: unknown; cost_usd?: unknown; wall_time?: unknown };
  const view: BudgetView = {};
  const tokens = tokenCount(b.tokens);
  if (tokens !== undefined) view.tokens = tokens;
  if (typeof b.cost_usd === 'number') view.cost_usd = b.cost_usd;
  const wall = typeof b.wall_time === 'string' ? durationMs(b.wall_time) : undefined;
  if (wall !== undefined) view.wall_time_ms = wall;
  return Object.keys(view).length ? view : undefined;
}

export function planRows(pipeline: Pipeline): PlanRow[] {
  const rows: PlanRow[] = [];
  // A template's stages take the defaults along the chain of callers, as `apply` does (stage-model.ts).
  const visit = (scope: Scope, prefix: string, depth: number, owners: readonly Pipeline[]) => {
    scope.stages.forEach((stage, i) => {
      const step = prefix ? `${prefix}.${i + 1}` : String(i + 1);
      rows.push(row(stage, step, depth, owners, (owners.at(-1) ?? pipeline).params));
      if (stage.body) visit(stage.body, step, depth + 1, stage.template ? [...owners, stage.template.pipeline] : owners);
    });
  };
  visit(pipeline.root, '', 0, [pipeline]);
  return rows;
}

/**
 * A model or provider that a matrix chooses (`${{ matrix.model }}`), as the distinct values its
 * instances get (`claude-sonnet-4-5, gpt-5.4`); as written when they cannot be known now.
 */
function perInstance(text: string, def: unknown, params: Pipeline['params']): string {
  const matrix = text.includes('${{') ? fanoutOf(def)?.matrix : undefined;
  if (!matrix) return text;
  const expanded = expandMatrix(matrix, params);
  if (!expanded.ok) return text;
  const values = renderPerCombination(text, expanded.combos, params);
  return values.every((v) => v !== undefined) ? [...new Set(values)].join(', ') : text;
}

function row(stage: StageNode, step: string, depth: number, owners: readonly Pipeline[], params: Pipeline['params']): PlanRow {
  const def = stage.def as { model?: string; provider?: string; max_iterations?: number; timeout?: string; budget?: unknown };
  const r: PlanRow = { step, path: stage.path, depth, kind: stage.kind, needs: [...stage.needs], retries: stage.retries, from: stage.source.file };
  if (stage.if !== '${{ success() }}') r.condition = stage.if;
  if (LLM_KINDS.has(stage.kind)) {
    const model = stageModel(owners, stage);
    if (model !== undefined) r.model = perInstance(model, stage.def, params);
    // An external agent is not a provider (docs/models-and-budgets.md): its model only prices the tokens it reports.
    r.provider = isAgentStage(stage) ? AGENT : perInstance(stageProvider(owners, stage), stage.def, params);
    const profile = stageProfile(owners, stage);
    if (profile) r.profile = profile.name;
  }
  if (typeof def.max_iterations === 'number') r.maxIterations = def.max_iterations;
  const fanout = fanoutText(stage.def, params);
  if (fanout) r.fanout = fanout;
  if (stage.timeoutMs !== undefined) r.timeout = typeof def.timeout === 'string' ? def.timeout : `${stage.timeoutMs / 1000}s`;
  const budget = budgetView(def.budget);
  if (budget) r.budget = budget;
  return r;
}
