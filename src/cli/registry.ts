import type { Command } from 'commander';
import { registerEval } from './eval.js';
import type { CliIO } from './io.js';
import { registerSchema } from './schema.js';
import { registerValidate } from './validate.js';

/** A command file adds its subcommand to the program and returns it. One line per command. */
export type RegisterCommand = (program: Command, io: CliIO) => Command;

export const commands: RegisterCommand[] = [registerValidate, registerEval, registerSchema];
