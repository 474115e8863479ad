import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { answerQuestion } from '../engine/approvals/answer-question.js';
import { approverName } from '../engine/approvals/approval-identity.js';
import { runsDir } from '../records/paths.js';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';

interface ApproveFlags {
  reject?: boolean;
  choice?: string;
  comment?: string;
  dir?: string;
}

/**
 * `factory approve RUN STAGE [--reject | --choice ID] [--comment TEXT] [--dir DIR]` (docs/running.md): answers
 * an approve stage, or a budget question, that a running apply waits on, from any shell in the
 * repository. Refuses (exit 2) an unknown run or stage, one that is not waiting, and a second
 * answer. The answer appears complete or not at all, and only the first one counts.
 */
export function registerApprove(program: Command, io: CliIO): Command {
  return program
    .command('approve')
    .description('answer a waiting approve stage or budget question of a running apply')
    .argument('<run>', 'run id, or latest')
    .argument('<stage>', 'the waiting stage, by dotted path (e.g. gate or build.gate)')
    .option('--reject', 'reject instead of approving')
    .option('--choice <id>', 'for a stage that offers options: the id of the one chosen')
    .option('--comment <text>', 'a comment kept with the answer (the stage\'s `comment` output)')
    .option('--dir <dir>', 'the directory holding .factory (default: the current directory or the nearest above it with that run)')
    .action((runArg: string, stage: string, flags: ApproveFlags) => {
      const code = approve(io, runArg, stage, flags);
      if (code !== EXIT.ok) throw new ExitError(code);
    });
}

function approve(io: CliIO, runArg: string, stage: string, flags: ApproveFlags): number {
  const fail = (message: string, code: number = EXIT.usage): number => {
    io.stderr.write(`factory approve: ${message}\n`);
    return code;
  };
  const ws = recordsDir(flags.dir, io.cwd, runArg);
  if (!ws.ok) return fail(ws.error);
  const outcome = answerQuestion(ws.dir, {
    run: runArg,
    stage,
    ...(flags.reject === undefined ? {} : { reject: flags.reject }),
    ...(flags.choice === undefined ? {} : { choice: flags.choice }),
    ...(flags.comment === undefined ? {} : { comment: flags.comment }),
    by: approverName(io.cwd, io.env),
    via: 'command',
  });
  if (!outcome.ok) return fail(outcome.message, outcome.why === 'failed' ? EXIT.failed : EXIT.usage);
  io.stdout.write(`${outcome.text}\n`);
  return EXIT.ok;
}

/**
 * The directory holding `.factory`: `--dir`, else the current directory or the nearest one
 * above it that has this run (so any shell in the repository can answer).
 */
function recordsDir(dir: string | undefined, cwd: string, run: string): { ok: true; dir: string } | { ok: false; error: string } {
  if (dir !== undefined) return findWorkspace(dir, cwd);
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    const runs = runsDir(d);
    if (run === 'latest' ? existsSync(runs) : existsSync(path.join(runs, run))) return { ok: true, dir: d };
    if (path.dirname(d) === d) break;
  }
  return { ok: true, dir: path.resolve(cwd) };
}
