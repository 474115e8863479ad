import type { Command } from 'commander';
import type { CliIO } from '../base/io.js';
import { loadPipeline } from '../config/index.js';
import { doctorChecks } from './doctor-checks.js';
import { EXIT, ExitError } from './exit.js';
import { printDiagnostics } from './print-diagnostics.js';

/**
 * `factory doctor`: what the pipeline in the folder needs from this machine, one line each with
 * ✓ or ✗ and the fix. Exit 0 when all hold, 1 when one does not, 2 when the file is not valid.
 */
export function registerDoctor(program: Command, io: CliIO): Command {
  return program
    .command('doctor')
    .description('check this machine for what the pipeline needs: Node, git, the API key or cassette, the sandbox, MCP servers, model prices')
    .argument('[file]', 'factory.yaml, or a directory holding one', undefined)
    .action((file: string | undefined) => {
      const loaded = loadPipeline(file, { cwd: io.cwd, set: [], forRun: false });
      if (!loaded.ok) {
        printDiagnostics(io, loaded.diagnostics, loaded.sources);
        throw new ExitError(EXIT.usage);
      }
      const checks = doctorChecks(loaded.pipeline, { env: io.env, nodeVersion: process.versions.node, platform: process.platform });
      for (const c of checks) io.stdout.write(c.ok ? `✓ ${c.what}\n` : `✗ ${c.what}\n    fix: ${c.fix ?? 'see docs/running.md'}\n`);
      const failed = checks.filter((c) => !c.ok).length;
      io.stdout.write(failed === 0 ? `all ${checks.length} checks hold\n` : `${failed} of ${checks.length} checks fail\n`);
      if (failed > 0) throw new ExitError(EXIT.failed);
    });
}
