import { approveExecutor } from './approve.js';
import { commandExecutor } from './command.js';
import { generateExecutor } from './generate.js';
import { learnExecutor } from './learn.js';
import { loopExecutor } from './loop.js';
import { pipelineExecutor } from './pipeline.js';
import { planExecutor } from './plan.js';
import { reviewExecutor } from './review.js';
import { scenarioValidateExecutor } from './scenario-validate.js';
import type { StageExecutors } from '../engine/executor.js';

/**
 * Stage kind → executor: a full Record, so a new kind does not compile until it has its file
 * here. The engine does not import this (stages are above it in the flow); the CLI hands it to
 * runPipeline.
 */
export const stageExecutors: StageExecutors = {
  command: commandExecutor,
  loop: loopExecutor,
  'scenario-validate': scenarioValidateExecutor,
  plan: planExecutor,
  generate: generateExecutor,
  review: reviewExecutor,
  approve: approveExecutor,
  pipeline: pipelineExecutor,
  learn: learnExecutor,
};
