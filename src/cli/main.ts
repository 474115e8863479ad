import { processIO, type CliIO } from '../base/io.js';
import { EXIT } from './exit.js';
import { VERSION } from './version.js';

/**
 * The one entry of the CLI: `bin/factory.js` calls it with the real process, tests call it with
 * captured IO. It returns the exit code instead of exiting, so nothing is cut short.
 *
 * It loads nothing but the version until it knows the command: `--version` answers here, and
 * everything else loads the parser (program.ts), which loads only the command named.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const args = argv.filter((a) => a !== '--debug');
  // The same text and exit code commander gives for its version option, without loading it.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const { runProgram } = await import('./program.js');
  return runProgram(argv, io);
}
