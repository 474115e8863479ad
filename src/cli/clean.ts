import { existsSync, rmSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { StageCache } from '../engine/cache.js';
import { readLock, isAlive } from '../records/lock.js';
import { listRuns } from '../records/read.js';
import { lockFile, runDir } from '../records/paths.js';
import { findWorkspace } from '../records/workspace.js';
import { EXIT, ExitError, type CliIO } from './io.js';

/** Accepts 0 (remove every run) and up. */
function keepCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of at least 0.');
  return n;
}

export function registerClean(program: Command, io: CliIO): Command {
  return program
    .command('clean')
    .description('remove the stage cache and all runs but the last N from .factory')
    .argument('[file]', 'factory.yaml, or its directory (default: the current directory)')
    .option('--keep <n>', 'runs to keep, newest first', keepCount, 0)
    .action((file: string | undefined, opts: { keep: number }) => {
      const ws = findWorkspace(file, io.cwd);
      if (!ws.ok) {
        io.stderr.write(`factory clean: ${ws.error}\n`);
        throw new ExitError(EXIT.usage);
      }
      // Removing the records of a run that is going on would lose it.
      const lock = existsSync(lockFile(ws.dir)) ? readLock(lockFile(ws.dir)) : 'gone';
      if (typeof lock === 'object' && isAlive(lock)) {
        io.stderr.write(`factory clean: run ${lock.run} is running (pid ${lock.pid}); clean after it ends\n`);
        throw new ExitError(EXIT.usage);
      }
      new StageCache(ws.dir).clear();
      const runs = listRuns(ws.dir);
      const remove = runs.slice(0, Math.max(0, runs.length - opts.keep));
      for (const r of remove) rmSync(runDir(ws.dir, r.record.id), { recursive: true, force: true });
      io.stdout.write(`removed the cache and ${remove.length} run${remove.length === 1 ? '' : 's'}; kept ${runs.length - remove.length}\n`);
    });
}
