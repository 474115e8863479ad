import type { StageFile } from '../../records/types.js';
import { readPatchFile } from '../patches/patches.js';
import { instancePatchFile } from '../../records/paths.js';
import type { Outcome } from '../stage-record.js';
import { emit, type RunState } from '../state.js';
import type { Instance } from './expand.js';
import type { Patch } from '../patches/patches.js';

/**
 * `--resume` keeps the instances that succeeded in the record (section 13), with the patch an
 * isolated one left; the others run again. Undefined when the instance has to run.
 */
export function keptInstance(state: RunState, inst: Instance): { outcome: Outcome; patch?: Patch } | undefined {
  const file: StageFile | undefined = state.previousStages?.get(inst.node.path);
  if (!file || file.status !== 'succeeded') return undefined;
  let patch: Patch | undefined;
  const isolated = (inst.node.def as { isolate?: boolean }).isolate === true;
  if (isolated) {
    const read = readPatchFile(instancePatchFile(state.store.dir, inst.node.path), inst.node.path);
    // Without its patch the instance's work is lost: it runs again.
    if (!read.ok) return undefined;
    patch = read.patch;
  }
  emit(state, {
    type: 'stage_finished',
    stage: inst.node.path,
    status: 'succeeded',
    message: `kept from the record of run ${state.runId}`,
    cached: false,
    kept: true,
    duration_ms: file.started_at && file.ended_at ? Math.max(0, Date.parse(file.ended_at) - Date.parse(file.started_at)) : 0,
    usage: file.usage,
    cost_usd: file.cost_usd,
  });
  const outcome: Outcome = { status: 'succeeded', outputs: file.outputs, continueOnError: inst.node.continueOnError, kept: true, attempts: file.attempts, durationMs: 0, usage: file.usage, cost_usd: file.cost_usd };
  if (file.fingerprint) outcome.fingerprint = file.fingerprint;
  return patch ? { outcome, patch } : { outcome };
}
