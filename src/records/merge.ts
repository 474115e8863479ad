import { RECORD_VERSION, type RunMeta, type StageFile } from './types.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';
import { isRecord } from '../base/is-record.js';

/**
 * Records written on several machines merge (docs/export.md): every machine writes only its own
 * stages' files under `stages/`, and a CI's artifact download drops the other machines' files
 * beside them — with no run.json, or with one written elsewhere. The stage files are the truth;
 * these helpers read them defensively (a file from another machine is input, not trusted code)
 * and derive what run.json holds from them.
 */

const STATUSES = new Set(['succeeded', 'failed', 'error', 'skipped', 'cancelled', 'running']);

/** A stage file as read from disk, checked and completed; undefined when it is not one. */
export function normalizeStageFile(raw: unknown): StageFile | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const f = raw as Partial<StageFile> & Record<string, unknown>;
  if (typeof f.path !== 'string' || f.path === '' || typeof f.status !== 'string' || !STATUSES.has(f.status)) return undefined;
  if (f.iteration !== undefined && (typeof f.iteration !== 'number' || !Number.isInteger(f.iteration) || f.iteration < 1)) return undefined;
  const file: StageFile = {
    version: RECORD_VERSION,
    path: f.path,
    kind: typeof f.kind === 'string' ? f.kind : 'command',
    status: f.status,
    reason: typeof f.reason === 'string' ? f.reason : null,
    message: typeof f.message === 'string' ? f.message : null,
    started_at: typeof f.started_at === 'string' ? f.started_at : null,
    ended_at: typeof f.ended_at === 'string' ? f.ended_at : null,
    attempts: typeof f.attempts === 'number' && Number.isFinite(f.attempts) ? f.attempts : 0,
    cached: f.cached === true,
    outputs: isRecord(f.outputs) ? f.outputs : {},
    usage: normalizeUsage(f.usage),
    cost_usd: typeof f.cost_usd === 'number' && Number.isFinite(f.cost_usd) && f.cost_usd >= 0 ? f.cost_usd : 0,
    fingerprint: typeof f.fingerprint === 'string' ? f.fingerprint : null,
  };
  if (f.iteration !== undefined) file.iteration = f.iteration;
  // Fields other writers add (an approve stage's answer, say) travel as they are.
  for (const [k, v] of Object.entries(f)) if (!(k in file) && k !== 'iterations') (file as unknown as Record<string, unknown>)[k] = v;
  return file;
}

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
