import type { StageKind } from '../config/pipeline.js';
import { commandExecutor } from './command.js';
import type { StageExecutor } from './types.js';

/** Stage kind → executor. A new kind is one file in src/stages and one line here. */
const executors: Partial<Record<StageKind, StageExecutor>> = {
  command: commandExecutor,
};

export function executorFor(kind: StageKind): StageExecutor | undefined {
  return executors[kind];
}

/** Lets an engine (or a test) plug in executors for further kinds, e.g. loop, which needs the scheduler. */
export function registerExecutor(kind: StageKind, executor: StageExecutor): void {
  executors[kind] = executor;
}
