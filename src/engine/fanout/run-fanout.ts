import type { StageNode } from '../../config/pipeline.js';
import type { FanoutSpec } from '../../config/fanout.js';
import type { EvalContext, Value } from '../../expr/index.js';
import type { Patch } from '../patches/patches.js';
import { reasonName, type Reason } from '../../records/reasons.js';
import { addUsage, ZERO_USAGE } from '../../base/usage.js';
import { recordEnd, recordNotRun, recordStart, type Ending, type Outcome } from '../stage-record.js';
import { checkRecord, type RunState } from '../state.js';
import { Slots } from '../schedule/slots.js';
import { stageBase } from '../../records/paths.js';
import { loopContexts, type Where } from '../schedule/attempts.js';
import { expandInstances, instanceContexts, type Instance } from './expand.js';
import { fanoutOutputs, joinStatus, pickInstance, type InstanceEnd } from './join.js';
import { applyInstancePatches, patchOfCopy, takeCopy, type IsolatedCopy } from './isolation.js';
import type { ModelRuntime } from '../models/models.js';
import { takeSnapshot } from '../../workspace/snapshot.js';
import { keptInstance } from './resume.js';

/** Runs one instance as the scheduler runs any stage (slot, cache, attempts), in the state given. */
export type RunInstance = (state: RunState, node: StageNode, where: Where) => Promise<Outcome>;

/** The abort reason that tells an instance it was cancelled by its join, not by the user. */
export const JOINED = 'joined';

interface Shared {
  state: RunState;
  node: StageNode;
  spec: FanoutSpec;
  where: Where;
  run: RunInstance;
  /** Aborted with JOINED once `first_success` has its success. */
  join: AbortController;
  limit: Slots;
  firstSuccess: number | null;
}

/**
 * A stage with `matrix` or `for_each` (section 13): expands it into instances `id[n]`, runs them
 * like sibling stages (under `concurrency` and `max_parallel`), joins them (`first_success`
 * cancels the rest, `pick` chooses one), applies the isolated instances' patches, and records
 * the stage itself with `instances`, `picked` and the picked instance's outputs.
 */
export async function runFanout(state: RunState, node: StageNode, spec: FanoutSpec, where: Where, run: RunInstance): Promise<Outcome> {
  const started = Date.now();
  const times = { startedAt: new Date(started).toISOString(), started };
  recordStart(state, node, times.startedAt, 1, where.iteration);
  const track = trackWrites(state, node, where);
  try {
    return await fanOut(state, node, spec, where, run, times);
  } finally {
    track();
  }
}

/**
 * The stage's writes (its instances' in the workspace, or the patches the join applied) are the
 * run's own (watch mode), and for a top-level stage of a shared `--run-id` they become its patch
 * for the jobs after it (export: a fan-out stage is one job).
 */
function trackWrites(state: RunState, node: StageNode, where: Where): () => void {
  const cache = state.cache;
  if (!cache) return () => undefined;
  const key = stageBase(node.path, where.iteration);
  const patched = cache.onTopLevelChanges !== undefined && where.iteration === undefined && state.pipeline.root.byId.get(node.id)?.path === node.path;
  cache.tracker.begin(key, node.path, { changes: patched, writer: true });
  return () => {
    const changes = cache.tracker.end(key);
    if (patched && changes) cache.onTopLevelChanges!(node.path, changes);
  };
}

async function fanOut(state: RunState, node: StageNode, spec: FanoutSpec, where: Where, run: RunInstance, times: { startedAt: string; started: number }): Promise<Outcome> {
  const ctx = evalContext(state, where);
  const expanded = expandInstances(node, spec, state.pipeline.params, ctx);
  if (!expanded.ok) return finish(state, node, where, times, { status: 'error', reason: expanded.reason, message: expanded.message, outputs: { instances: [], picked: null } });
  const shared: Shared = { state, node, spec, where, run, join: new AbortController(), limit: new Slots(spec.maxParallel ?? Number.POSITIVE_INFINITY), firstSuccess: null };
  const results = await Promise.all(expanded.instances.map((inst) => runInstance(shared, inst)));
  const ends = results.map((r) => r.end);
  const usage = { ...ZERO_USAGE };
  let cost = 0;
  for (const r of results) {
    if (r.outcome.usage) addUsage(usage, r.outcome.usage);
    cost += r.outcome.cost_usd ?? 0;
  }
  const spent = { usage, cost_usd: Math.round(cost * 1e6) / 1e6 };
  const picked = pickInstance(node, spec, ends, shared.firstSuccess, ctx);
  if (!picked.ok) return finish(state, node, where, times, { status: 'error', reason: picked.reason, message: picked.message, outputs: fanoutOutputs(ends, null), ...spent });
  const verdict = joinStatus(node, spec, ends);
  const outputs = fanoutOutputs(ends, picked.index);
  let ending: Ending = { status: verdict.status, message: verdict.message, outputs, ...spent, ...(verdict.reason ? { reason: verdict.reason } : {}) };
  if (spec.isolate && (verdict.status === 'succeeded' || verdict.status === 'failed')) ending = applyChosen(state, node, spec, results, picked.index, ending);
  const fingerprints = results.map((r) => r.outcome.fingerprint);
  if (fingerprints.every((f) => f !== undefined)) ending.fingerprint = fingerprints.join('+');
  if (results.length > 0 && results.every((r) => r.outcome.cached === true)) ending.cached = true;
  return finish(state, node, where, times, ending);
}

interface InstanceResult {
  end: InstanceEnd;
  outcome: Outcome;
  patch?: Patch;
}

async function runInstance(shared: Shared, inst: Instance): Promise<InstanceResult> {
  const { state, where, spec } = shared;
  const kept = where.iteration === undefined ? keptInstance(state, inst) : undefined;
  if (kept) return result(inst, kept.outcome, kept.patch);
  const signal = AbortSignal.any([state.signal, shared.join.signal]);
  const granted = await shared.limit.acquire(signal);
  try {
    if (!granted || shared.join.signal.aborted) return result(inst, notStarted(shared, inst));
    let copy: Awaited<ReturnType<typeof takeCopy>> | undefined;
    if (spec.isolate) {
      copy = await takeCopy(state.pipeline.dir, state.runId, inst.node.path, where.iteration, state.pipeline.config.watch?.ignore);
      if (!copy.ok) return result(inst, recordNotRun(state, inst.node, { status: 'error', reason: copy.reason, message: copy.message, outputs: {} }, where.iteration));
    }
    const own = instanceState(shared, inst, signal, copy?.ok ? copy.copy : undefined);
    const outcome = await shared.run(own, inst.node, where);
    const patch = copy?.ok ? patchOfCopy(copy.copy, state.runId, state.store.dir, inst.node.path, where.iteration, state.pipeline.config.watch?.ignore) : undefined;
    if (outcome.status === 'succeeded' && spec.wait === 'first_success' && shared.firstSuccess === null) {
      shared.firstSuccess = inst.index;
      shared.join.abort(JOINED);
    }
    return result(inst, outcome, patch);
  } finally {
    if (granted) shared.limit.release();
  }
}

function result(inst: Instance, outcome: Outcome, patch?: Patch): InstanceResult {
  const end: InstanceEnd = { instance: inst, status: outcome.status, outputs: outcome.outputs };
  if (outcome.reason) end.reason = outcome.reason;
  const name = outcome.reasonName ?? (outcome.reason ? reasonName(outcome.reason) : undefined);
  if (name) end.reasonName = name;
  if (outcome.message) end.message = outcome.message;
  return patch ? { end, outcome, patch } : { end, outcome };
}

/** An instance that never started: its join was decided first, or the run was interrupted. */
function notStarted(shared: Shared, inst: Instance): Outcome {
  const joined = shared.join.signal.aborted && !shared.state.signal.aborted;
  const reason: Reason = joined ? { kind: 'joined', join: shared.spec.wait } : { kind: 'cancelled' };
  const message = joined ? `not started: instance ${shared.firstSuccess ?? '?'} of "${shared.node.path}" succeeded first` : 'not started: the run was interrupted';
  return recordNotRun(shared.state, inst.node, { status: 'cancelled', reason, message, outputs: {} }, shared.where.iteration);
}

/**
 * The run's state as one instance sees it: its own signal (the join's), `matrix` or `each` among
 * the contexts, its copy of the workspace when isolated (and no stage cache there: the cache
 * belongs to the workspace). With `pick` or `first_success` an instance's error is the join's to
 * judge, so it does not stop the run by itself.
 */
function instanceState(shared: Shared, inst: Instance, signal: AbortSignal, copy: IsolatedCopy | undefined): RunState {
  const { state, spec } = shared;
  const extra = instanceContexts(inst.index, inst.matrix ? { matrix: inst.matrix } : { item: inst.item ?? null });
  const lenient = spec.pick !== undefined || spec.wait === 'first_success';
  let own: RunState['stopping'];
  const fields: PropertyDescriptorMap = {
    signal: { value: signal, enumerable: true },
    contexts: { get: () => ({ ...state.contexts, ...extra }), enumerable: true },
    stopping: {
      get: () => own ?? state.stopping,
      set: (value: RunState['stopping']) => {
        if (lenient) own = value;
        else state.stopping = value;
      },
      enumerable: true,
    },
  };
  if (copy !== undefined) {
    fields.pipeline = { value: { ...state.pipeline, dir: copy.dir }, enumerable: true };
    fields.cache = { value: undefined, enumerable: true };
    if (state.models) fields.models = { value: copyModels(state.models, copy, state.pipeline.config.watch?.ignore), enumerable: true };
  }
  return Object.create(state, fields) as RunState;
}

/** The picked instance's patch, or every succeeded instance's in index order, applied all or nothing. */
function applyChosen(state: RunState, node: StageNode, spec: FanoutSpec, results: readonly InstanceResult[], picked: number | null, ending: Ending): Ending {
  const chosen = spec.pick !== undefined || spec.wait === 'first_success'
    ? results.filter((r) => r.end.instance.index === picked)
    : results.filter((r) => r.end.status === 'succeeded');
  const patches = chosen.flatMap((r) => (r.patch ? [r.patch] : []));
  const applied = applyInstancePatches(state.pipeline.dir, node.path, patches);
  if (applied.ok) {
    const files = applied.files.length;
    return { ...ending, message: `${ending.message}${files > 0 ? `; ${files} file${files === 1 ? '' : 's'} changed in the workspace` : ''}` };
  }
  return { ...ending, status: 'error', reason: applied.reason, message: `${ending.message}; ${applied.message}` };
}

async function finish(state: RunState, node: StageNode, where: Where, times: { startedAt: string; started: number }, ending: Ending): Promise<Outcome> {
  const outcome = recordEnd(state, node, ending, times, 1, where.iteration);
  if (ending.status === 'error' && !node.continueOnError) {
    state.stopping ??= { path: node.path, message: `stage "${node.path}" ended in error (${ending.reason ? reasonName(ending.reason) : 'error'})`, record: false };
  }
  await state.store.written(node.path, where.iteration);
  checkRecord(state);
  return outcome;
}

function evalContext(state: RunState, where: Where): EvalContext {
  return {
    contexts: { ...(state.contexts as unknown as Record<string, Value>), stages: where.stages, ...loopContexts(where) },
    status: { success: () => true, failure: () => false, cancelled: () => state.signal.aborted },
  };
}

/**
 * The run's model services as an isolated instance's stages use them: the same ledgers and
 * providers, but a review's diff is the copy's since it was taken, not the workspace's.
 */
function copyModels(models: ModelRuntime, copy: IsolatedCopy, ignore: readonly string[] | undefined): ModelRuntime {
  const forStage: ModelRuntime['forStage'] = (...args) => ({
    ...models.forStage(...args),
    runStart: () => copy.before,
    snapshot: () => takeSnapshot(copy.dir, { previous: copy.before, ...(ignore ? { ignore } : {}) }),
  });
  // A Proxy, not Object.create: the runtime's methods read its private fields, so they run on it.
  return new Proxy(models, {
    get(target, prop) {
      if (prop === 'forStage') return forStage;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
