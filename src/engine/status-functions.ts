import type { StageNode } from '../config/pipeline.js';
import type { StatusFunctions } from '../expr/index.js';
import type { Outcome } from './stage-record.js';

/** A need counts as succeeded when it did, or when it failed with continue_on_error; skipped does not. */
export function countsAsSuccess(o: Outcome): boolean {
  return o.status === 'succeeded' || (o.continueOnError && (o.status === 'failed' || o.status === 'error'));
}

function countsAsFailure(o: Outcome): boolean {
  return !o.continueOnError && (o.status === 'failed' || o.status === 'error');
}

/**
 * success(), failure() and cancelled() for one stage (docs/configuration.md, as GitHub Actions reads
 * `needs`): success() when every stage it needs, directly or through others, counts as
 * succeeded — so a failure or skip anywhere up the chain is seen, as in GitHub's dependency
 * chains; failure() when any of them ended failed or error; cancelled() while the run is interrupted.
 */
export function statusFunctions(node: StageNode, outcomes: ReadonlyMap<string, Outcome>, signal: AbortSignal): StatusFunctions {
  return {
    success: () => chainSucceeded(node, outcomes),
    failure: () => {
      for (const id of node.upstream) {
        const o = outcomes.get(id);
        if (o && countsAsFailure(o)) return true;
      }
      return false;
    },
    cancelled: () => signal.aborted,
  };
}

/**
 * Per outcomes map (one scope, one iteration): the stages found to have every stage up their chain
 * count as succeeded. Outcomes are written once, so a `true` stays true; `false` is not kept
 * (a need kept from a resumed record may still be waiting for its own needs).
 */
const chainsSucceeded = new WeakMap<ReadonlyMap<string, Outcome>, Set<string>>();

/**
 * success(): every stage up the chain counts as succeeded. It holds when every direct need does
 * and each need's own chain was found to — so in a pipeline that succeeds, deciding a stage
 * looks at its direct needs only, instead of walking (and first computing) its whole upstream,
 * which made deciding a deep pipeline quadratic.
 */
function chainSucceeded(node: StageNode, outcomes: ReadonlyMap<string, Outcome>): boolean {
  let known = chainsSucceeded.get(outcomes);
  if (!known) chainsSucceeded.set(outcomes, (known = new Set()));
  if (known.has(node.id)) return true;
  let needsKnown = true;
  for (const id of node.needs) {
    const o = outcomes.get(id);
    if (!o || !countsAsSuccess(o)) return false;
    if (!known.has(id)) needsKnown = false;
  }
  if (!needsKnown) {
    for (const id of node.upstream) {
      const o = outcomes.get(id);
      if (!o || !countsAsSuccess(o)) return false;
    }
  }
  known.add(node.id);
  return true;
}

/** The first stage up the chain that did not succeed, for the "skipped because" message. */
export function firstUnsuccessful(node: StageNode, outcomes: ReadonlyMap<string, Outcome>): { id: string; outcome: Outcome | undefined } | undefined {
  // Direct needs first: they make the clearest message.
  for (const id of node.needs) {
    const o = outcomes.get(id);
    if (!o || !countsAsSuccess(o)) return { id, outcome: o };
  }
  for (const id of node.upstream) {
    const o = outcomes.get(id);
    if (!o || !countsAsSuccess(o)) return { id, outcome: o };
  }
  return undefined;
}
