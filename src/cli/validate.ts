import type { Command } from 'commander';
import { loadPipeline } from '../config/index.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { collect } from './options.js';
import { diagnosticsJson, printDiagnostics } from './print-diagnostics.js';

export function registerValidate(program: Command, io: CliIO): Command {
  return program
    .command('validate')
    .description('check a factory.yaml: schema, stages, needs, expressions, params and scenario files')
    .argument('[file]', 'factory.yaml, or a directory holding one', undefined)
    .option('--format <format>', 'text or json', 'text')
    .option('--set <id=value>', 'check a param value as apply would (repeatable)', collect, [])
    .action((file: string | undefined, opts: { format: string; set: string[] }) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        io.stderr.write(`error: --format must be text or json, not "${opts.format}"\n`);
        throw new ExitError(EXIT.usage);
      }
      const result = loadPipeline(file, { cwd: io.cwd, set: opts.set, forRun: opts.set.length > 0 });
      const diags = result.ok ? result.warnings : result.diagnostics;
      if (opts.format === 'json') {
        io.stdout.write(`${diagnosticsJson(diags, result.ok)}\n`);
      } else {
        printDiagnostics(io, diags, result.sources);
        if (result.ok) {
          const count = countStages(result.pipeline.root.stages);
          io.stdout.write(`${result.pipeline.file} is valid: ${count} stage${count === 1 ? '' : 's'}\n`);
        }
      }
      if (!result.ok) throw new ExitError(EXIT.usage);
    });
}

function countStages(stages: readonly { body?: { stages: readonly unknown[] } }[]): number {
  let n = 0;
  for (const s of stages) n += 1 + (s.body ? countStages(s.body.stages as typeof stages) : 0);
  return n;
}
