import path from 'node:path';
import { iterationKey, type Iteration } from './iteration.js';

/** Where records live: `<workspace>/.factory/`. One place for every path, so readers and writers agree. */
export const factoryDir = (workspace: string): string => path.join(workspace, '.factory');
export const runsDir = (workspace: string): string => path.join(factoryDir(workspace), 'runs');
export const runDir = (workspace: string, id: string): string => path.join(runsDir(workspace), id);
export const lockFile = (workspace: string): string => path.join(factoryDir(workspace), 'lock');
/** The process groups the lock's holder has running (process-groups.ts). */
export const groupsFile = (workspace: string): string => path.join(factoryDir(workspace), 'lock.groups');
export const runJson = (dir: string): string => path.join(dir, 'run.json');
export const stagesDir = (dir: string): string => path.join(dir, 'stages');

/**
 * `<path>`, `<path>@<iteration>` inside a loop body, `<path>@2.1` inside nested loops (outer
 * iteration 2, inner 1): the name a stage's record files share, so no iteration overwrites another's.
 */
export function stageBase(stagePath: string, iteration?: Iteration): string {
  const key = iterationKey(iteration);
  return key === '' ? stagePath : `${stagePath}@${key}`;
}

/** `stages/<path>.json`, or `stages/<path>@<iteration>.json` inside a loop body. */
export function stageFile(dir: string, stagePath: string, iteration?: Iteration): string {
  return path.join(stagesDir(dir), `${stageBase(stagePath, iteration)}.json`);
}

export function logFile(dir: string, stagePath: string, stream: 'stdout' | 'stderr', iteration?: Iteration): string {
  return path.join(stagesDir(dir), `${stageBase(stagePath, iteration)}.${stream}`);
}

/** File changes that travel between machines (docs/export.md): `changes/<stage id>.patch`. */
export const changesDir = (dir: string): string => path.join(dir, 'changes');
export function patchFile(dir: string, stageId: string): string {
  return path.join(changesDir(dir), `${stageId}.patch`);
}
/** A fan-out instance's changes as a patch of the same format (section 13): `instances/<path>.patch`. */
export function instancePatchFile(dir: string, instancePath: string, iteration?: Iteration): string {
  return path.join(dir, 'instances', `${stageBase(instancePath, iteration)}.patch`);
}
/** Where isolated fan-out instances work: `.factory/work/<run>/`. */
export const workDir = (workspace: string, runId: string): string => path.join(factoryDir(workspace), 'work', runId);
/** Which patches this machine has applied or made itself (never uploaded: no stage id starts with `_`). */
export const appliedPatchesFile = (dir: string): string => path.join(changesDir(dir), '_applied.json');

/** The run's journals (docs/cache-and-watch.md): `journal/<writer>.ndjson`, one per apply process. */
export const journalDir = (dir: string): string => path.join(dir, 'journal');
export function journalFile(dir: string, writer: string): string {
  return path.join(journalDir(dir), `${writer}.ndjson`);
}
