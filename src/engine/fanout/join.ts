import type { JsonValue, StageNode } from '../../config/pipeline.js';
import type { FanoutSpec } from '../../config/fanout.js';
import type { EvalContext } from '../../expr/index.js';
import type { StageStatus } from '../../records/events.js';
import type { Reason } from '../../records/reasons.js';
import { renderAt } from '../expressions.js';
import { instanceRecord, instanceValue, type Instance } from './expand.js';

/** How one instance ended, as the join sees it. */
export interface InstanceEnd {
  instance: Pick<Instance, 'index' | 'matrix' | 'item' | 'label'>;
  status: StageStatus | 'running';
  outputs: Record<string, JsonValue>;
  reason?: Reason;
  reasonName?: string;
  message?: string;
}

export type Picked = { ok: true; index: number | null } | { ok: false; reason: Reason; message: string };

/**
 * The instance whose outputs become the stage's: with `pick`, the succeeded instance for which it
 * gives the highest number (ties: the lowest index); with `first_success`, the first to succeed;
 * otherwise none. A pick that is not a number for some instance is an error, not a guess.
 */
export function pickInstance(node: StageNode, spec: FanoutSpec, ends: readonly InstanceEnd[], firstSuccess: number | null, ctx: EvalContext): Picked {
  if (spec.pick === undefined) return { ok: true, index: spec.wait === 'first_success' ? firstSuccess : null };
  let best: { index: number; score: number } | null = null;
  for (const end of ends) {
    if (end.status !== 'succeeded') continue;
    const instance = instanceValue(end.instance, end.status, end.outputs);
    const r = renderAt(node, ['join', 'pick'], spec.pick, { ...ctx, contexts: { ...ctx.contexts, instance } });
    if (!r.ok) return { ok: false, reason: r.at ? { kind: 'expression', at: r.at } : { kind: 'expression' }, message: `join.pick for instance ${end.instance.index}: ${r.message}` };
    const score = typeof r.value === 'number' ? r.value : typeof r.value === 'boolean' ? Number(r.value) : Number.NaN;
    if (!Number.isFinite(score)) {
      return { ok: false, reason: { kind: 'expression' }, message: `join.pick gave ${JSON.stringify(r.value)} for instance ${end.instance.index}, not a number` };
    }
    if (best === null || score > best.score) best = { index: end.instance.index, score };
  }
  return { ok: true, index: best?.index ?? null };
}

export interface JoinVerdict {
  status: Exclude<StageStatus, 'skipped'>;
  reason?: Reason;
  message: string;
}

/**
 * The stage's status from its instances': without a join, succeeded only when every instance
 * did (as a GitHub matrix job); with `pick` or `first_success`, when at least one did. An
 * instance in error makes the stage an error when it fails the stage.
 */
export function joinStatus(node: StageNode, spec: FanoutSpec, ends: readonly InstanceEnd[]): JoinVerdict {
  const ok = ends.filter((e) => e.status === 'succeeded').length;
  const of = `${ok} of ${ends.length} instance${ends.length === 1 ? '' : 's'} succeeded`;
  const lenient = spec.pick !== undefined || spec.wait === 'first_success';
  if (lenient ? ok > 0 : ok === ends.length) return { status: 'succeeded', message: of };
  const bad = ends.find((e) => e.status !== 'succeeded' && e.reasonName !== 'joined');
  if (ends.some((e) => e.status === 'cancelled' && e.reasonName !== 'joined')) return { status: 'cancelled', reason: { kind: 'cancelled' }, message: `${of}; interrupted` };
  const error = ends.find((e) => e.status === 'error');
  const first = error ?? bad;
  const which = first ? `; ${node.path}[${first.instance.index}]${first.instance.label ? ` ${first.instance.label}` : ''} ${first.status}${first.message ? `: ${first.message}` : ''}` : '';
  // The instance's own reason, so that a budget exhausted in one still exits 3.
  if (error) return { status: 'error', reason: error.reason ?? { kind: 'needs', need: `${node.id}[${error.instance.index}]` }, message: `${of}${which}` };
  return { status: 'failed', reason: first?.reason ?? { kind: 'needs', need: first ? `${node.id}[${first.instance.index}]` : node.id }, message: `${of}${which}` };
}

/** `instances`, `picked`, and the picked instance's outputs as the stage's own. */
export function fanoutOutputs(ends: readonly InstanceEnd[], picked: number | null): Record<string, JsonValue> {
  const instances = ends.map((e) => instanceRecord(e.instance, e.status, e.outputs));
  const chosen = picked === null ? undefined : ends.find((e) => e.instance.index === picked);
  return { ...(chosen?.outputs ?? {}), instances, picked };
}

