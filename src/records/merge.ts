import type { RunMeta, StageFile } from './types.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';

/**
 * Records written on several machines merge (docs/export.md): every machine writes only its own
 * journal (and, in the earlier layout, its own stages' files under `stages/`), and a CI's
 * artifact download drops the other machines' files beside them — with no run.json, or with one
 * written elsewhere. Each file is checked against its schema when read (records/validate.ts);
 * these helpers derive what run.json holds from what they say.
 */

/** A usage as a journal event carries it (checked by the schema when present), or zero. */
export function normalizeUsage(raw: unknown): Usage {
  const u = { ...ZERO_USAGE };
  if (raw === null || typeof raw !== 'object') return u;
  for (const key of Object.keys(u) as (keyof Usage)[]) {
    const v = (raw as Record<string, unknown>)[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) u[key] = v;
  }
  return u;
}

/**
 * The run's own fields for a record that has stage files but no run.json (downloaded from
 * upstream jobs): it is running, and started when its first stage did.
 */
export function mergedRunMeta(id: string, stages: readonly StageFile[], now: Date = new Date()): RunMeta {
  const starts = stages.map((s) => s.started_at).filter((t): t is string => t !== null).sort();
  return { id, name: '', status: 'running', exit_code: null, started_at: starts[0] ?? now.toISOString(), ended_at: null };
}

/**
 * What the given stages spent, as the run ledger must start from it: top-level stages only (a
 * loop's file already holds its body's spending over every iteration).
 */
export function spentByStages(stages: Iterable<StageFile>): { usage: Usage; cost_usd: number } {
  const usage = { ...ZERO_USAGE };
  let cost = 0;
  for (const s of stages) {
    if (s.iteration !== undefined || s.path.includes('.')) continue;
    usage.input_tokens += s.usage.input_tokens;
    usage.output_tokens += s.usage.output_tokens;
    usage.cache_creation_input_tokens += s.usage.cache_creation_input_tokens;
    usage.cache_read_input_tokens += s.usage.cache_read_input_tokens;
    cost += s.cost_usd;
  }
  return { usage, cost_usd: cost };
}
