import type { StageKind } from '../config/pipeline.js';
import { approveExecutor } from './approve.js';
import { commandExecutor } from './command.js';
import { generateExecutor } from './generate.js';
import { loopExecutor } from './loop.js';
import { pipelineExecutor } from './pipeline.js';
import { planExecutor } from './plan.js';
import { reviewExecutor } from './review.js';
import { scenarioValidateExecutor } from './scenario-validate.js';
import type { StageExecutor } from '../engine/executor.js';

/** Stage kind → executor. A new kind is one file in src/stages and one line here. */
const executors: Partial<Record<StageKind, StageExecutor>> = {
  command: commandExecutor,
  loop: loopExecutor,
  'scenario-validate': scenarioValidateExecutor,
  plan: planExecutor,
  generate: generateExecutor,
  review: reviewExecutor,
  approve: approveExecutor,
  pipeline: pipelineExecutor,
};

export function executorFor(kind: StageKind): StageExecutor | undefined {
  return executors[kind];
}

/** Lets an engine (or a test) plug in executors for further kinds, e.g. loop, which needs the scheduler. */
export function registerExecutor(kind: StageKind, executor: StageExecutor): void {
  executors[kind] = executor;
}
