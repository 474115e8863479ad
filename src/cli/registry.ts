import type { Command } from 'commander';
import type { CliIO } from '../base/io.js';

/** A command file adds its subcommand to the program and returns it. One line per command. */
export type RegisterCommand = (program: Command, io: CliIO) => Command;

/**
 * Each command's file, loaded only when needed: a start pays for the command it runs, not for the
 * engine, providers and terminal UI that other commands use. The order is the order of the help.
 * Each name must be the name the file gives its command (test/cli/registry.test.ts checks).
 */
export const commandLoaders: ReadonlyMap<string, () => Promise<RegisterCommand>> = new Map<string, () => Promise<RegisterCommand>>([
  ['init', async () => (await import('./init.js')).registerInit],
  ['validate', async () => (await import('./validate.js')).registerValidate],
  ['plan', async () => (await import('./plan.js')).registerPlan],
  ['graph', async () => (await import('./graph.js')).registerGraph],
  ['eval', async () => (await import('./eval.js')).registerEval],
  ['schema', async () => (await import('./schema.js')).registerSchema],
  ['apply', async () => (await import('./apply.js')).registerApply],
  ['approve', async () => (await import('./approve.js')).registerApprove],
  ['runs', async () => (await import('./runs.js')).registerRuns],
  ['show', async () => (await import('./show.js')).registerShow],
  ['view', async () => (await import('./view.js')).registerView],
  ['clean', async () => (await import('./clean.js')).registerClean],
  ['learnings', async () => (await import('./learnings.js')).registerLearnings],
  ['export', async () => (await import('./export.js')).registerExport],
  ['doctor', async () => (await import('./doctor.js')).registerDoctor],
]);

/**
 * The commands to register for these arguments (without --debug): only the one named when the
 * first argument names one; all of them otherwise, for the help, `help <command>` and the
 * suggestion after an unknown command.
 */
export async function loadCommands(args: readonly string[]): Promise<RegisterCommand[]> {
  const named = args[0] === undefined ? undefined : commandLoaders.get(args[0]);
  if (named) return [await named()];
  return Promise.all([...commandLoaders.values()].map((load) => load()));
}
