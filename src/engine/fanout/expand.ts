import type { JsonValue, Scope, StageNode, TemplateCall } from '../../config/pipeline.js';
import { describeValues, expandMatrix, type FanoutSpec, type MatrixValues } from '../../config/fanout.js';
import { renderValue, type EvalContext, type Value } from '../../expr/index.js';
import { renderAt } from '../expressions.js';
import type { Reason } from '../../records/reasons.js';

/** One instance of a fan-out stage: its 1-based index, its values, and the stage re-pathed as `id[n]`. */
export interface Instance {
  index: number;
  matrix?: MatrixValues;
  item?: JsonValue;
  /** `approach=refactor`: what progress and summaries add to its path. */
  label: string;
  node: StageNode;
}

export type Expansion = { ok: true; instances: Instance[] } | { ok: false; reason: Reason; message: string };

/** Keys read before a model stage's calls are made (preflight, pricing): rendered once per instance. */
const MODEL_KEYS = ['model', 'provider', 'profile', 'judge_model'] as const;

/**
 * The instances of a fan-out stage: its matrix (params only, as validate saw it), or its
 * `for_each` list evaluated now with what the stage's `if` could read; a list longer than
 * `max_items` is an error (reason for_each), never silently cut.
 */
export function expandInstances(node: StageNode, spec: FanoutSpec, params: Readonly<Record<string, JsonValue>>, ctx: EvalContext): Expansion {
  if (spec.matrix) {
    const m = expandMatrix(spec.matrix, params);
    if (!m.ok) return { ok: false, reason: { kind: 'config' }, message: m.message };
    return { ok: true, instances: m.combos.map((values, i) => instance(node, i + 1, { matrix: values }, ctx)) };
  }
  const r = renderAt(node, ['for_each'], spec.forEach ?? '', ctx);
  if (!r.ok) return { ok: false, reason: r.at ? { kind: 'expression', at: r.at } : { kind: 'expression' }, message: r.message };
  if (!Array.isArray(r.value)) {
    return { ok: false, reason: { kind: 'expression' }, message: `for_each gave ${JSON.stringify(r.value).slice(0, 80)}, not a list` };
  }
  const max = spec.maxItems ?? 0;
  if (r.value.length > max) {
    return { ok: false, reason: { kind: 'for_each', items: r.value.length, maxItems: max }, message: `for_each gave ${r.value.length} items, more than max_items (${max}); nothing was run` };
  }
  return { ok: true, instances: r.value.map((item, i) => instance(node, i + 1, { item }, ctx)) };
}

function instance(node: StageNode, index: number, values: { matrix?: MatrixValues; item?: JsonValue }, ctx: EvalContext): Instance {
  const own = { ...ctx.contexts, ...instanceContexts(index, values) };
  const label = describeValues(values.matrix, values.item);
  const out: Instance = { index, label, node: { ...instanceNode(node, index, { ...ctx, contexts: own }), values: label } };
  if (values.matrix) out.matrix = values.matrix;
  else out.item = values.item ?? null;
  return out;
}

/** `matrix` or `each` as the instance's expressions read them. */
export function instanceContexts(index: number, values: { matrix?: MatrixValues; item?: JsonValue }): Record<string, Value> {
  if (values.matrix) return { matrix: values.matrix };
  return { each: { item: (values.item ?? null), index } };
}

/**
 * The stage as instance `n`: its path and every path under it become `id[n]…`, and the model
 * keys written as expressions over `matrix` or `each` take their values, so that each
 * instance's calls are priced, keyed and recorded as its own.
 */
export function instanceNode(node: StageNode, n: number, ctx: EvalContext): StageNode {
  const from = node.path;
  const to = `${node.path}[${n}]`;
  return repath(node, from, to, ctx);
}

/** `ctx`: the instance's contexts, for the model keys of the stage and its loop body (a template's stages do not see them). */
function repath(node: StageNode, from: string, to: string, ctx: EvalContext | undefined): StageNode {
  const out: StageNode = { ...node, path: swap(node.path, from, to), def: ctx ? renderModelKeys(node.def, ctx) : node.def };
  if (node.template) {
    const template: TemplateCall = { ...node.template, pipeline: { ...node.template.pipeline, root: repathScope(node.template.pipeline.root, from, to, undefined) } };
    out.template = template;
    out.body = template.pipeline.root;
  } else if (node.body) {
    out.body = repathScope(node.body, from, to, ctx);
  }
  return out;
}

function repathScope(scope: Scope, from: string, to: string, ctx: EvalContext | undefined): Scope {
  const stages = scope.stages.map((s) => repath(s, from, to, ctx));
  return { path: swap(scope.path, from, to), stages, byId: new Map(stages.map((s) => [s.id, s])) };
}

function swap(path: string, from: string, to: string): string {
  if (path === from) return to;
  return path.startsWith(`${from}.`) ? `${to}${path.slice(from.length)}` : path;
}

function renderModelKeys<T extends StageNode['def']>(def: T, ctx: EvalContext): T {
  let out: Record<string, unknown> | undefined;
  for (const key of MODEL_KEYS) {
    const raw = (def as unknown as Record<string, unknown>)[key];
    if (typeof raw !== 'string' || !raw.includes('${{')) continue;
    const r = renderValue(raw, ctx);
    // Left as written when it reads what only the run knows: the stage reports it when it runs.
    if (!r.ok || typeof r.value !== 'string') continue;
    out ??= { ...(def as unknown as Record<string, unknown>) };
    out[key] = r.value;
  }
  return (out as unknown as T | undefined) ?? def;
}

/** `instance` in `join.pick`: `{index, matrix | item, status, outputs}`. */
export function instanceValue(inst: Pick<Instance, 'index' | 'matrix' | 'item'>, status: string, outputs: Record<string, JsonValue>): Value {
  const v: Record<string, Value> = { index: inst.index, status, outputs: outputs };
  if (inst.matrix) v.matrix = inst.matrix;
  else v.item = (inst.item ?? null);
  return v;
}

/** An instance's values as a record keeps them (outputs.instances). */
export function instanceRecord(inst: Pick<Instance, 'index' | 'matrix' | 'item'>, status: string, outputs: Record<string, JsonValue>): JsonValue {
  return instanceValue(inst, status, outputs);
}
