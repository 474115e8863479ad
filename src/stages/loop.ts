import type { LoopStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { condition } from '../engine/expressions.js';
import type { StatusFunctions, Value } from '../expr/index.js';
import type { NestedOutcome, StageExecutor, StageResult } from '../engine/executor.js';
import { addUsage } from '../base/usage.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';

/** Without `until`, a loop repeats until every stage of its body succeeded. */
const DEFAULT_UNTIL = '${{ success() }}';

/**
 * `kind: loop` (docs/configuration.md): runs its body as one iteration through the scheduler, then
 * evaluates `until`; repeats until it holds or `max_iterations` ran. A `failed` body stage is
 * feedback for the next iteration; an `error` (without continue_on_error) ends the loop with
 * that error, its reason kept (so a body's budget error still exits 3). Holds no slot: its
 * body's stages take them.
 */
export const loopExecutor: StageExecutor = {
  holdsSlot: false,
  async run(ctx) {
    const def = ctx.node.def as LoopStage;
    const max = def.max_iterations;
    if (!ctx.runScope || !ctx.node.body) return { status: 'error', reason: 'config', message: 'internal error: the loop has no body to run', outputs: {} };
    const until = condition(ctx.node, 'until', typeof def.until === 'string' ? def.until : DEFAULT_UNTIL);
    if (!until.ok) return { status: 'error', reason: 'expression', message: until.message, outputs: {} };

    const spent = { usage: { ...ZERO_USAGE }, cost: 0 };
    let previous: Record<string, Value> | null = null;
    let last: Map<string, NestedOutcome> = new Map();
    let iteration = 0;
    let converged = false;
    while (iteration < max) {
      iteration++;
      const { outcomes, contexts } = await ctx.runScope({ iteration, loop: { iteration, previous } });
      last = outcomes;
      for (const o of outcomes.values()) add(spent, o);
      const outputs = (): Record<string, JsonValue> => loopOutputs(iteration, converged, last);
      const charged = { usage: spent.usage, cost_usd: round(spent.cost) };

      if (ctx.signal.aborted || [...outcomes.values()].some((o) => o.status === 'cancelled')) {
        return { status: 'error', reason: 'cancelled', message: `interrupted in iteration ${iteration}`, outputs: outputs(), ...charged };
      }
      const broken = firstError(ctx.node.body.stages.map((s) => s.id), outcomes);
      if (broken) {
        const [id, o] = broken;
        return {
          status: 'error',
          reason: o.reason ?? 'needs',
          message: `iteration ${iteration}: stage "${ctx.node.path}.${id}" ended in error${o.reason ? ` (${o.reason})` : ''}${o.message ? `: ${o.message}` : ''}`,
          outputs: outputs(),
          ...charged,
        };
      }
      const held = until.value.test({ contexts, status: bodyStatus(outcomes, ctx.signal) });
      if (!held.ok) return { status: 'error', reason: 'expression', message: `iteration ${iteration}: ${held.message}`, outputs: outputs(), ...charged };
      if (held.value) {
        converged = true;
        return { status: 'succeeded', message: `converged in iteration ${iteration} of ${max}`, outputs: outputs(), ...charged };
      }
      previous = Object.fromEntries([...outcomes].map(([id, o]) => [id, { status: o.status, outputs: o.outputs }]));
    }
    const result: StageResult = {
      status: 'failed',
      reason: 'not_converged',
      message: `did not converge in ${max} iteration${max === 1 ? '' : 's'}${typeof def.until === 'string' ? `: until ${def.until} stayed false` : ''}`,
      outputs: loopOutputs(iteration, false, last),
      usage: spent.usage,
      cost_usd: round(spent.cost),
    };
    return result;
  },
};

function loopOutputs(iterations: number, converged: boolean, last: ReadonlyMap<string, NestedOutcome>): Record<string, JsonValue> {
  const stages: Record<string, JsonValue> = {};
  for (const [id, o] of last) stages[id] = { status: o.status, outputs: o.outputs };
  return { iterations, converged, stages };
}

/** The first body stage, in the body's order, that ended in error and does not continue on error. */
function firstError(order: readonly string[], outcomes: ReadonlyMap<string, NestedOutcome>): [string, NestedOutcome] | undefined {
  for (const id of order) {
    const o = outcomes.get(id);
    if (o && o.status === 'error' && !o.continueOnError) return [id, o];
  }
  return undefined;
}

/** Status functions in `until`: success() when every body stage counts as succeeded, failure() when any failed. */
function bodyStatus(outcomes: ReadonlyMap<string, NestedOutcome>, signal: AbortSignal): StatusFunctions {
  const list = [...outcomes.values()];
  return {
    success: () => list.every((o) => o.status === 'succeeded' || (o.continueOnError && (o.status === 'failed' || o.status === 'error'))),
    failure: () => list.some((o) => !o.continueOnError && (o.status === 'failed' || o.status === 'error')),
    cancelled: () => signal.aborted,
  };
}

function add(into: { usage: Usage; cost: number }, o: NestedOutcome): void {
  if (o.usage) addUsage(into.usage, o.usage);
  into.cost += o.cost_usd ?? 0;
}

function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
