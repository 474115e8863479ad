import type { JsonValue } from '../config/pipeline.js';
import { coerceParam, declaredParams } from '../config/templates/params.js';
import { withProblem } from '../config/templates/templates.js';
import { renderValue, type Value } from '../expr/index.js';
import type { NestedOutcome, StageExecutor, StageResult } from '../engine/executor.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';

/**
 * `kind: pipeline` (docs/configuration.md): calls a template as one stage. `with` is rendered in the
 * caller's scope and typed by the template's params; the template's stages run as the stage's
 * body (nested in progress and records); its `outputs:` become the stage's outputs. Holds no
 * slot: its stages take them.
 */
export const pipelineExecutor: StageExecutor = {
  holdsSlot: false,
  async run(ctx) {
    const call = ctx.node.template;
    if (!call || !ctx.runTemplate) return { status: 'error', reason: 'config', message: 'internal error: the pipeline stage has no template to run', outputs: {} };
    const given = ctx.render(call.with, ['with']);
    if (!given.ok) return { status: 'error', reason: 'expression', message: given.message, outputs: {} };
    const params = typedParams(call.pipeline.config, call.pipeline.params, given.value);
    if (!params.ok) return { status: 'error', reason: 'expression', message: `${ctx.node.source.file}: stage "${ctx.node.path}": ${params.message}`, outputs: {} };

    const { outcomes, contexts } = await ctx.runTemplate(params.value);
    const spent = total(outcomes);
    const ids = call.pipeline.root.stages.map((s) => s.id);
    const charged = { usage: spent.usage, cost_usd: spent.cost };
    if (ctx.signal.aborted || [...outcomes.values()].some((o) => o.status === 'cancelled')) {
      return { status: 'error', reason: 'cancelled', message: 'interrupted', outputs: {}, ...charged };
    }
    const outputs = templateOutputs(call.outputs, contexts);
    if (!outputs.ok) return { status: 'error', reason: 'expression', message: `outputs of ${call.ref}: ${outputs.message}`, outputs: {}, ...charged };
    const broken = first(ids, outcomes, 'error');
    if (broken) return { status: 'error', reason: broken[1].reason ?? 'needs', message: describe(ctx.node.path, broken), outputs: outputs.value, ...charged };
    const failed = first(ids, outcomes, 'failed');
    if (failed) return { status: 'failed', reason: failed[1].reason ?? 'needs', message: describe(ctx.node.path, failed), outputs: outputs.value, ...charged };
    const result: StageResult = { status: 'succeeded', outputs: outputs.value, ...charged };
    return result;
  },
};

/** The template's params: its defaults and static `with`, then the rendered `with`, typed. */
function typedParams(config: unknown, base: Readonly<Record<string, JsonValue>>, given: JsonValue): { ok: true; value: Record<string, JsonValue> } | { ok: false; message: string } {
  const specs = declaredParams(config);
  const out: Record<string, JsonValue> = { ...base };
  const values = given !== null && typeof given === 'object' && !Array.isArray(given) ? given : {};
  for (const [id, raw] of Object.entries(values)) {
    const spec = specs.get(id);
    if (!spec) continue; // validate refuses unknown params before the run
    // A value rendered from text (`"${{ ... }}" 3`) may still need its type: coerce like --set.
    const value = typeof raw === 'string' && spec.type !== 'string' ? coerceParam(raw, spec.type) : { ok: true as const, value: raw };
    const problem = value.ok ? withProblem(value.value, spec) : `param takes ${value.expected}, not ${JSON.stringify(raw)}`;
    if (problem || !value.ok) return { ok: false, message: `with ${id}: ${problem ?? 'invalid value'}` };
    out[id] = value.value;
  }
  for (const [id, spec] of specs) {
    if (out[id] === undefined && spec.default === undefined) return { ok: false, message: `the template's param "${id}" was not given` };
  }
  return { ok: true, value: out };
}

function templateOutputs(outputs: Readonly<Record<string, string>>, contexts: Record<string, Value>): { ok: true; value: Record<string, JsonValue> } | { ok: false; message: string } {
  const out: Record<string, JsonValue> = {};
  for (const [name, text] of Object.entries(outputs)) {
    const r = renderValue(text, { contexts });
    if (!r.ok) return { ok: false, message: `${name}: ${r.error.message}` };
    out[name] = r.value;
  }
  return { ok: true, value: out };
}

function first(ids: readonly string[], outcomes: ReadonlyMap<string, NestedOutcome>, status: 'error' | 'failed'): [string, NestedOutcome] | undefined {
  for (const id of ids) {
    const o = outcomes.get(id);
    if (o && o.status === status && !o.continueOnError) return [id, o];
  }
  return undefined;
}

function describe(path: string, [id, o]: [string, NestedOutcome]): string {
  return `stage "${path}.${id}" ${o.status === 'error' ? 'ended in error' : 'failed'}${o.reason ? ` (${o.reason})` : ''}${o.message ? `: ${o.message}` : ''}`;
}

function total(outcomes: ReadonlyMap<string, NestedOutcome>): { usage: Usage; cost: number } {
  const usage = { ...ZERO_USAGE };
  let cost = 0;
  for (const o of outcomes.values()) {
    if (o.usage) for (const k of Object.keys(usage) as (keyof Usage)[]) usage[k] += o.usage[k];
    cost += o.cost_usd ?? 0;
  }
  return { usage, cost: Math.round(cost * 1e6) / 1e6 };
}
