import type { Command } from 'commander';
import { registerApply } from './apply.js';
import { registerApprove } from './approve.js';
import { registerEval } from './eval.js';
import { registerGraph } from './graph.js';
import { registerInit } from './init.js';
import type { CliIO } from './io.js';
import { registerPlan } from './plan.js';
import { registerRuns } from './runs.js';
import { registerClean } from './clean.js';
import { registerExport } from './export.js';
import { registerSchema } from './schema.js';
import { registerShow } from './show.js';
import { registerValidate } from './validate.js';

/** A command file adds its subcommand to the program and returns it. One line per command. */
export type RegisterCommand = (program: Command, io: CliIO) => Command;

export const commands: RegisterCommand[] = [registerInit, registerValidate, registerPlan, registerGraph, registerEval, registerSchema, registerApply, registerApprove, registerRuns, registerShow, registerClean, registerExport];
