import { Command, CommanderError } from 'commander';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { loadCommands, type RegisterCommand } from './registry.js';
import { VERSION } from './version.js';

/** Parses the arguments with commander and runs the command named; main.ts loads this only when needed. */
export async function runProgram(argv: string[], io: CliIO): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  try {
    const program = buildProgram(io, await loadCommands(args));
    await program.parseAsync(args, { from: 'user' });
    return lastExit(program);
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof CommanderError) {
      // Help and version end with exit code 0; every usage mistake is a 2.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const error = err instanceof Error ? err : new Error(String(err));
    io.stderr.write(`factory: internal error: ${error.message}. This is a bug in factory; please report it${debug ? '' : ' with the output of the same command run with --debug'}.\n`);
    if (debug && error.stack) io.stderr.write(`${error.stack}\n`);
    return EXIT.internal;
  }
}

const exitCodes = new WeakMap<Command, number>();

/** Commands record their exit code on the root program instead of touching process.exitCode. */
export function setExitCode(cmd: Command, code: number): void {
  let root = cmd;
  while (root.parent) root = root.parent;
  exitCodes.set(root, code);
}

function lastExit(program: Command): number {
  return exitCodes.get(program) ?? EXIT.ok;
}

function buildProgram(io: CliIO, commands: readonly RegisterCommand[]): Command {
  const program = new Command('factory');
  program
    .description('Run software-factory pipelines: plan, generate, review and validate code with agents under budgets.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.endsWith('\n') ? s : `${s}\n`),
    })
    .option('--debug', 'print stack traces of internal errors');
  for (const register of commands) {
    const sub = register(program, io);
    sub.exitOverride().showSuggestionAfterError(true).helpOption('-h, --help', 'show help');
    sub.configureOutput(program.configureOutput());
  }
  program.addHelpText('after', '\nExit codes: 0 succeeded · 1 the pipeline failed · 2 invalid configuration or usage · 3 budget exhausted · 130 interrupted\n');
  return program;
}
