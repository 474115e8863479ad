import type { JsonValue, StageNode } from '../../config/pipeline.js';
import type { Value } from '../../expr/index.js';
import type { NestedScopeInput, NestedScopeResult } from '../executor.js';
import type { Where } from './attempts.js';
import { renderPipelineEnv, type RunContexts } from '../contexts.js';
import { runScope } from './scheduler.js';
import type { RunState } from '../state.js';
import { deeper } from '../../records/iteration.js';

/**
 * One iteration of a loop's body, run by the same scheduler as the top level. The body sees the
 * loop's own signal (so the loop's timeout and an interruption stop it) and shares everything
 * else with the run — `stopping` included, so an error in the body stops the run from starting
 * stages, as anywhere else. Its stages are recorded under the iteration.
 */
export async function runNested(state: RunState, node: StageNode, where: Where, signal: AbortSignal, input: NestedScopeInput): Promise<NestedScopeResult> {
  const body = node.body!;
  // A loop that runs again (a resumed run, or an inner loop in the next outer iteration) starts
  // from iteration 1: its old iterations go — for a loop in a loop, those of this outer iteration only.
  if (input.iteration === 1) state.store.dropIterations(node.path, where.iteration);
  const inner = innerState(state, { signal });
  // In nested loops the body's stages are keyed by the chain of iterations (`[2, 1]`), and read every enclosing loop's.
  const loops: Record<string, Value> = { ...(where.loops as Record<string, Value> | undefined), [node.id]: { iteration: input.iteration } };
  const outcomes = await runScope(inner, {
    scope: body,
    planned: new Set(body.stages.map((s) => s.id)),
    kept: new Map(),
    outer: where.stages,
    iteration: deeper(where.iteration, input.iteration),
    loop: input.loop,
    loops,
  });
  const stages: Record<string, Value> = { ...where.stages };
  for (const [id, o] of outcomes) stages[id] = { status: o.status, outputs: o.outputs as Value };
  const contexts: Record<string, Value> = { ...(state.contexts as unknown as Record<string, Value>), stages, loop: input.loop, loops };
  return { outcomes, contexts };
}

/**
 * A pipeline stage's template, run once as the stage's body. Like a reusable workflow it sees
 * only its own params (given) and stages, and its own `env:`; everything else — signal, slots,
 * records, budgets — is the run's. Its stages are recorded under their dotted paths.
 */
export async function runTemplateScope(state: RunState, node: StageNode, signal: AbortSignal, params: Record<string, JsonValue>): Promise<NestedScopeResult> {
  const call = node.template!;
  const pipeline = { ...call.pipeline, params };
  const pipelineEnv = renderPipelineEnv(pipeline, state.contexts.run);
  const contexts: RunContexts = { ...state.contexts, params, env: pipelineEnv.ok ? pipelineEnv.value : {} };
  const inner = innerState(state, { signal, pipeline, contexts, pipelineEnv });
  const root = call.pipeline.root;
  const outcomes = await runScope(inner, { scope: root, planned: new Set(root.stages.map((s) => s.id)), kept: new Map(), outer: {} });
  const stages: Record<string, Value> = {};
  for (const [id, o] of outcomes) stages[id] = { status: o.status, outputs: o.outputs as Value };
  return { outcomes, contexts: { ...(contexts as unknown as Record<string, Value>), stages } };
}

/**
 * The run's state as a nested scope sees it: some fields replaced, everything else shared —
 * `stopping` through the parent, so an error inside stops the whole run from starting stages.
 */
function innerState(state: RunState, own: Partial<Pick<RunState, 'signal' | 'pipeline' | 'contexts' | 'pipelineEnv'>>): RunState {
  const fields: PropertyDescriptorMap = {
    stopping: {
      get: () => state.stopping,
      set: (value: RunState['stopping']) => {
        state.stopping = value;
      },
      enumerable: true,
    },
  };
  for (const [key, value] of Object.entries(own)) fields[key] = { value, enumerable: true };
  return Object.create(state, fields) as RunState;
}
