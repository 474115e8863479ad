import type { JsonValue, Pipeline } from '../config/pipeline.js';
import { tokenCount } from '../config/units.js';
import { renderValue, type Value } from '../expr/index.js';
import { envText } from './env-text.js';

/** The contexts every expression of a run may read, apart from `stages` (per scope) and `loop`. */
export interface RunContexts {
  params: Record<string, JsonValue>;
  env: Record<string, string>;
  run: { id: string; dir: string };
  budget: { spent_usd: number; spent_tokens: number; remaining_usd: number | null; remaining_tokens: number | null };
}

export type PipelineEnv = { ok: true; value: Record<string, string> } | { ok: false; message: string };

/**
 * The pipeline's `env:` rendered once at run start. Its expressions may read `params` and `run`
 * (what validate allows there); a failure is kept and given to every command stage as its error.
 */
export function renderPipelineEnv(pipeline: Pipeline, run: RunContexts['run']): PipelineEnv {
  const env = (pipeline.config.env ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  const ctx = { contexts: { params: pipeline.params as Value, run: run as unknown as Value } };
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    if (typeof raw !== 'string') {
      out[name] = envText(raw as JsonValue);
      continue;
    }
    const r = renderValue(raw, ctx);
    if (!r.ok) return { ok: false, message: `${pipeline.file}: env ${name}: ${r.error.message}` };
    out[name] = envText(r.value);
  }
  return { ok: true, value: out };
}

/** Budget figures for expressions; nothing is spent by command stages, so they start at zero. */
export function budgetContext(pipeline: Pipeline): RunContexts['budget'] {
  const budget = (pipeline.config.budget ?? {}) as { tokens?: unknown; cost_usd?: unknown };
  const tokens = budget.tokens === undefined ? undefined : tokenCount(budget.tokens);
  return {
    spent_usd: 0,
    spent_tokens: 0,
    remaining_usd: typeof budget.cost_usd === 'number' ? budget.cost_usd : null,
    remaining_tokens: tokens ?? null,
  };
}
