import type { Command } from 'commander';
import { durationAsWritten } from '../base/duration.js';
import { shortTime, shownStatus, spanMs, stageCounts } from '../records/describe.js';
import { scanRuns } from '../records/read.js';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { table } from './table.js';

export function registerRuns(program: Command, io: CliIO): Command {
  return program
    .command('runs')
    .description('list past runs from the records in .factory/runs, oldest first')
    .argument('[file]', 'factory.yaml, or its directory (default: the current directory)')
    .option('--json', 'print the runs as JSON')
    .action((file: string | undefined, opts: { json?: boolean }) => {
      const ws = findWorkspace(file, io.cwd);
      if (!ws.ok) {
        io.stderr.write(`factory runs: ${ws.error}\n`);
        throw new ExitError(EXIT.usage);
      }
      // A record that cannot be read is listed as such, with its path and why, never dropped.
      const runs = scanRuns(ws.dir);
      if (opts.json) {
        const rows = runs.map((run) => {
          if (!run.ok) return { id: run.id, status: 'unreadable', error: run.error };
          const r = run.record;
          return { id: r.id, name: r.name, status: shownStatus(ws.dir, r), exit_code: r.exit_code, started_at: r.started_at, ended_at: r.ended_at };
        });
        io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (runs.length === 0) {
        io.stdout.write('no runs yet: `factory apply` records each run in .factory/runs\n');
        return;
      }
      const rows = runs.map((run) => {
        if (!run.ok) return [run.id, 'unreadable', shortTime(run.at), '-', run.error];
        const r = run.record;
        const ms = spanMs(r.started_at, r.ended_at);
        return [r.id, shownStatus(ws.dir, r), shortTime(r.started_at), ms === undefined ? '-' : durationAsWritten(ms), stageCounts(r.stages)];
      });
      io.stdout.write(`${table(['run', 'status', 'started', 'duration', 'stages'], rows)}\n`);
    });
}
