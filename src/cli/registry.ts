import type { Command } from 'commander';
import type { CliIO } from './io.js';

/** A command file adds its subcommand to the program and returns it. One line per command. */
export type RegisterCommand = (program: Command, io: CliIO) => Command;

export const commands: RegisterCommand[] = [];
