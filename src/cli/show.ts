import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { didYouMean } from '../config/suggest.js';
import { durationAsWritten } from '../base/duration.js';
import { shortTime, shownStatus, spanMs, stageCounts } from '../records/describe.js';
import { logFile } from '../records/paths.js';
import { latestRunId, listRuns, loadRun } from '../records/read.js';
import type { RunRecord, StageRecord } from '../records/types.js';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { iterationChain } from './options.js';
import { iterationText, type Iteration } from '../records/iteration.js';
import { table } from './table.js';
import { totalTokens } from '../base/usage.js';

export function registerShow(program: Command, io: CliIO): Command {
  return program
    .command('show')
    .description('show a past run (`latest` for the last one), or one of its stages by dotted path, with all its output')
    .usage('[DIR] <run> [stage] [options]')
    .argument('<run>', 'run id, or latest (after an optional DIR: the folder holding .factory, as for `runs`)')
    .argument('[stage]', 'stage path, e.g. build or build.generate')
    .argument('[more]', '(the stage, when a DIR comes first)')
    .option('--dir <dir>', 'the directory holding .factory (default: the current directory)')
    .option('--json', 'print the record as JSON')
    .option('--iteration <n>', 'for a stage inside a loop: the iteration to show (default: the last); in nested loops N is the innermost, 2.1 names each (outer 2, inner 1)', iterationChain)
    .action((first: string, second: string | undefined, third: string | undefined, opts: { dir?: string; json?: boolean; iteration?: number[] }) => {
      const fail = (message: string): never => {
        io.stderr.write(`factory show: ${message}\n`);
        throw new ExitError(EXIT.usage);
      };
      const args = splitArgs(io.cwd, first, second, third, opts.dir);
      if (!args.ok) return fail(args.error);
      const { dir: dirArg, run: runArg, stage } = args;
      const ws = findWorkspace(dirArg, io.cwd);
      if (!ws.ok) return fail(ws.error);
      const id = runArg === 'latest' ? latestRunId(ws.dir) : runArg;
      if (id === undefined) {
        return fail(`no runs in ${path.join(ws.dir, '.factory', 'runs')} yet: \`factory apply\` records one there; for the runs of another folder, name it: factory show DIR ${runArg}${stage ? ` ${stage}` : ''} (or --dir DIR)`);
      }
      const loaded = loadRun(ws.dir, id);
      if (!loaded.ok && loaded.unreadable) return fail(`the record of run ${id} cannot be read: ${loaded.error}`);
      if (!loaded.ok) {
        const ids = listRuns(ws.dir).map((r) => r.id);
        const elsewhere = ids.length === 0 ? '; for the runs of another folder, name it: factory show DIR RUN (or --dir DIR)' : '';
        return fail(`${loaded.error}${didYouMean(id, ids)}${ids.length ? `; latest: ${ids.at(-1)}` : ''}${elsewhere}`);
      }
      const { record, dir } = loaded;
      if (stage === undefined) {
        io.stdout.write(opts.json ? `${JSON.stringify(record, null, 2)}\n` : runText(ws.dir, record));
        return;
      }
      const found = findStage(ws.dir, id, record.stages, stage, opts.iteration);
      if (!found.ok) return fail(`run ${id} ${found.error}`);
      const { iteration } = found;
      let { s, from } = found;
      // A loop taken from the cache: its iterations as the run that produced the result ran them.
      if (s.cached && !s.iterations?.length && from === undefined) {
        const source = cachedSource(ws.dir, id, stage, s);
        if (source) {
          s = { ...s, iterations: source.s.iterations ?? [] };
          from = { id: source.id, dir: source.dir };
        }
      }
      const logDir = from?.dir ?? dir;
      const logs = (['stdout', 'stderr'] as const).map((stream) => ({ stream, file: logFile(logDir, stage, stream, iteration) })).filter((l) => existsSync(l.file));
      if (opts.json) {
        io.stdout.write(`${JSON.stringify({ path: stage, ...(iteration === undefined ? {} : { iteration }), ...(from ? { from_run: from.id } : {}), ...s, logs: Object.fromEntries(logs.map((l) => [l.stream, l.file])) }, null, 2)}\n`);
        return;
      }
      io.stdout.write(stageText(io.cwd, stage, s, logs, iteration, from?.id));
    });
}

type Args = { ok: true; dir: string | undefined; run: string; stage: string | undefined } | { ok: false; error: string };

/**
 * `show [DIR] RUN [STAGE]`: the folder comes first, as `runs [DIR]` takes it, and is told
 * from a run id by being an existing directory (a run id is never a path of the current
 * folder); `--dir` says the same. With three arguments the first must be the folder.
 */
function splitArgs(cwd: string, first: string, second: string | undefined, third: string | undefined, dirOption: string | undefined): Args {
  const isDir = (p: string) => {
    try {
      return statSync(path.resolve(cwd, p)).isDirectory();
    } catch {
      return false;
    }
  };
  const folderFirst = third !== undefined || (first !== 'latest' && isDir(first));
  if (!folderFirst) return { ok: true, dir: dirOption, run: first, stage: second };
  if (!isDir(first)) return { ok: false, error: `"${first}" is not a folder: with three arguments, show takes DIR RUN STAGE` };
  if (dirOption !== undefined) return { ok: false, error: `the folder is given twice ("${first}" and --dir ${dirOption}): give one` };
  return { ok: true, dir: first, run: second ?? 'latest', stage: third };
}

function runText(workspace: string, r: RunRecord): string {
  const ms = spanMs(r.started_at, r.ended_at);
  const head = [
    `run ${r.id}  ${r.name}`,
    `status ${shownStatus(workspace, r)}${r.exit_code === null ? '' : ` (exit ${r.exit_code})`} · started ${shortTime(r.started_at)} · ${ms === undefined ? 'not finished' : `took ${durationAsWritten(ms)}`} · stages ${stageCounts(r.stages)}`,
  ];
  const rows = Object.entries(r.stages).map(([p, s]) => {
    const d = spanMs(s.started_at, s.ended_at);
    return [p, s.status, s.reason ?? '-', d === undefined ? '-' : durationAsWritten(d), String(s.attempts), oneLine(s.message ?? '')];
  });
  return `${head.join('\n')}\n\n${table(['stage', 'status', 'reason', 'duration', 'attempts', 'message'], rows)}\n`;
}

type Source = { id: string; dir: string };
type Found = { ok: true; s: StageRecord; iteration: Iteration | undefined; from: Source | undefined } | { ok: false; error: string };

/**
 * A stage by dotted path: a top-level entry, or a stage of a loop's body found in the loop's
 * iterations (the last one that ran it, or `--iteration N`). In nested loops each loop's
 * iteration is its last, or the one `--iteration` names: its numbers are the innermost loops'
 * (`2.1`: outer 2, inner 1; `1`: the innermost only). A loop this run took from the cache ran
 * no iteration here: its body is looked up in the run whose result was reused.
 */
function findStage(workspace: string, runId: string, stages: Record<string, StageRecord>, stagePath: string, asked: number[] | undefined): Found {
  const iteration = asked?.at(-1);
  const top = stages[stagePath];
  if (top && iteration === undefined) return { ok: true, s: top, iteration: undefined, from: undefined };
  if (top) return { ok: false, error: `: stage "${stagePath}" is not inside a loop, so --iteration does not apply` };
  const all = allPaths(stages);
  const segments = stagePath.split('.');
  let level: Record<string, StageRecord> = stages;
  let from: Source | undefined;
  let found: { s: StageRecord; iteration: Iteration } | undefined;
  const chain: number[] = [];
  for (let i = 1; i < segments.length; i++) {
    const loopPath = segments.slice(0, i).join('.');
    let loop = level[loopPath];
    if (loop?.cached && !loop.iterations?.length && i === 1) {
      const source = cachedSource(workspace, runId, loopPath, loop);
      if (source) {
        from = { id: source.id, dir: source.dir };
        loop = source.s;
      }
    }
    if (!loop?.iterations) break;
    const last = i === segments.length - 1;
    const holding = loop.iterations.filter((it) => it.stages[last ? stagePath : segments.slice(0, i + 1).join('.')] !== undefined);
    if (holding.length === 0) break;
    const want = asked?.[asked.length - (segments.length - i)];
    const chosen = want !== undefined ? holding.find((it) => it.iteration === want) : holding.at(-1);
    if (!chosen) return { ok: false, error: `has no iteration ${want} of ${last ? 'stage' : 'loop'} "${last ? stagePath : loopPath}"; iterations: ${holding.map((it) => it.iteration).join(', ')}` };
    chain.push(chosen.iteration);
    const [first, ...rest] = chain;
    if (last) found = { s: chosen.stages[stagePath]!, iteration: rest.length === 0 ? first! : [first!, ...rest] };
    level = chosen.stages;
  }
  if (found) return { ok: true, ...found, from };
  return { ok: false, error: `has no stage "${stagePath}"${didYouMean(stagePath, all)}; stages: ${all.join(', ')}` };
}

/**
 * The record of a loop as it ran in the run whose cached result `runId` reused: the run the
 * record's message names ("reused the result of run X"), else the latest other run that ran a
 * loop of this path with the same fingerprint.
 */
function cachedSource(workspace: string, runId: string, loopPath: string, cached: StageRecord): (Source & { s: StageRecord }) | undefined {
  const ran = (s: StageRecord | undefined): s is StageRecord => s !== undefined && !s.cached && (s.iterations?.length ?? 0) > 0;
  const named = /reused the result of run ([^\s,]+)/.exec(cached.message ?? '')?.[1];
  if (named !== undefined && named !== runId) {
    const loaded = loadRun(workspace, named);
    if (loaded.ok && ran(loaded.record.stages[loopPath])) return { id: named, dir: loaded.dir, s: loaded.record.stages[loopPath] };
  }
  if (cached.fingerprint === null) return undefined;
  for (const { id, record } of listRuns(workspace).reverse()) {
    const s = record.stages[loopPath];
    if (id === runId || !ran(s) || s.fingerprint !== cached.fingerprint) continue;
    const loaded = loadRun(workspace, id);
    if (loaded.ok) return { id, dir: loaded.dir, s };
  }
  return undefined;
}

/** Every stage path of a record, a loop's body stages included. */
function allPaths(stages: Record<string, StageRecord>): string[] {
  const out = new Set<string>();
  const visit = (level: Record<string, StageRecord>) => {
    for (const [p, s] of Object.entries(level)) {
      out.add(p);
      for (const it of s.iterations ?? []) visit(it.stages);
    }
  };
  visit(stages);
  return [...out];
}

/** A loop's iterations as a table: each body stage's status, satisfaction (scenario stages), tokens, cost and duration. */
function iterationLines(s: StageRecord): string[] {
  if (!s.iterations?.length) return [];
  const rows: string[][] = [];
  for (const it of s.iterations) {
    Object.entries(it.stages).forEach(([p, b], i) => {
      const d = spanMs(b.started_at, b.ended_at);
      const satisfaction = b.outputs.satisfaction;
      const tokens = totalTokens(b.usage);
      rows.push([
        i === 0 ? String(it.iteration) : '',
        p.slice(p.lastIndexOf('.') + 1),
        `${b.status}${b.reason && b.status !== 'succeeded' ? ` (${b.reason})` : ''}${b.cached ? ', cached' : ''}`,
        typeof satisfaction === 'number' ? satisfaction.toFixed(2) : '-',
        tokens > 0 ? String(tokens) : '-',
        b.cost_usd > 0 ? usd(b.cost_usd) : '-',
        d === undefined ? '-' : durationAsWritten(d),
      ]);
    });
  }
  return ['iterations', ...table(['#', 'stage', 'status', 'satisfaction', 'tokens', 'cost', 'duration'], rows).split('\n').map((l) => `  ${l}`)];
}

function usd(n: number): string {
  return n < 1 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

function stageText(cwd: string, stagePath: string, s: StageRecord, logs: { stream: string; file: string }[], iteration?: Iteration, from?: string): string {
  const d = spanMs(s.started_at, s.ended_at);
  const lines = [
    `stage ${stagePath}${iteration === undefined ? '' : ` (${iterationText(iteration)})`}${from === undefined ? '' : ` — from run ${from}, whose result this run reused from the cache`}`,
    `status    ${s.status}${s.reason ? ` (${s.reason})` : ''}${s.cached ? ', cached' : ''}`,
  ];
  if (s.message) lines.push(`message   ${s.message}`);
  lines.push(`started   ${shortTime(s.started_at)}`, `ended     ${shortTime(s.ended_at)}${d === undefined ? '' : `  (${durationAsWritten(d)})`}`, `attempts  ${s.attempts}`);
  const tokens = totalTokens(s.usage);
  if (tokens > 0 || s.cost_usd > 0) lines.push(`usage     ${tokens} tokens · ${usd(s.cost_usd)}`);
  for (const l of logs) lines.push(`${l.stream.padEnd(9)} ${path.relative(cwd, l.file) || l.file}`);
  if (logs.length === 0) lines.push('output    (none recorded)');
  lines.push(...iterationLines(s));
  lines.push('outputs');
  for (const [k, v] of Object.entries(s.outputs)) {
    // A loop's `stages` output repeats its last iteration, which the table above shows.
    if (k === 'stages' && s.iterations?.length) {
      lines.push(`  ${k}: (the last iteration's, as above; --json prints them)`);
      continue;
    }
    const text = (typeof v === 'string' ? v : JSON.stringify(v, null, 2)).replace(/\n$/, '');
    lines.push(`  ${k}:${text.includes('\n') ? `\n${indent(text, '    ')}` : text === '' ? ' (empty)' : ` ${text}`}`);
  }
  // All of the output, as the tail printed when the stage failed promised.
  for (const l of logs) {
    const text = readText(l.file);
    if (text === '') continue;
    lines.push(`${l.stream} (all ${countLines(text)} line${countLines(text) === 1 ? '' : 's'})`, indent(text.replace(/\n$/, ''), '  │ '));
  }
  return `${lines.join('\n')}\n`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function countLines(text: string): number {
  return text.replace(/\n$/, '').split('\n').length;
}

function indent(text: string, by: string): string {
  return text.split('\n').map((l) => by + l).join('\n');
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 80 ? `${first.slice(0, 79)}…` : first;
}
