import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { StageCache } from '../engine/cache/cache.js';
import { describeFsError } from '../base/fs-error.js';
import { readLock, isAlive } from '../records/lock.js';
import { listRuns } from '../records/read.js';
import { factoryDir, lockFile, runDir } from '../records/paths.js';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';

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
      const runs = listRuns(ws.dir);
      const remove = runs.slice(0, Math.max(0, runs.length - opts.keep));
      let cacheCleared = false;
      let removed = 0;
      try {
        new StageCache(ws.dir).clear();
        cacheCleared = true;
        for (const r of remove) {
          rmSync(runDir(ws.dir, r.record.id), { recursive: true, force: true });
          removed++;
        }
      } catch (err) {
        // A folder that cannot be changed (read-only, another owner, an immutable attribute) is
        // the machine's state, not a bug of factory nor a usage error: exit 1, like an apply
        // that cannot write its record, with the path to fix.
        const where = (err as NodeJS.ErrnoException).path ?? factoryDir(ws.dir);
        const done = cacheCleared ? ` (removed the cache${removed ? ` and ${plural(removed, 'run')}` : ''} before that)` : '';
        io.stderr.write(`factory clean: cannot remove ${describeFsError(err, shown(io.cwd, where))}${done}; make ${shown(io.cwd, factoryDir(ws.dir))} writable and run clean again\n`);
        throw new ExitError(EXIT.failed);
      }
      io.stdout.write(`removed the cache and ${plural(remove.length, 'run')}; kept ${runs.length - remove.length}\n`);
    });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A path as the user would type it from where they are: relative when inside, else absolute. */
function shown(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}
