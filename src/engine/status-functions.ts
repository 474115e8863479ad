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
 * success(), failure() and cancelled() for one stage (SPEC section 3, as GitHub Actions reads
 * `needs`): success() when every stage it needs, directly or through others, counts as
 * succeeded — so a failure or skip anywhere up the chain is seen, as in GitHub's dependency
 * chains; failure() when any of them ended failed or error; cancelled() while the run is interrupted.
 */
export function statusFunctions(node: StageNode, outcomes: ReadonlyMap<string, Outcome>, signal: AbortSignal): StatusFunctions {
  return {
    success: () => firstUnsuccessful(node, outcomes) === undefined,
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
