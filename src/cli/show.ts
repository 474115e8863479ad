import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { didYouMean } from '../config/suggest.js';
import { formatDuration } from '../engine/durations.js';
import { shortTime, shownStatus, spanMs, stageCounts } from '../records/describe.js';
import { logFile } from '../records/paths.js';
import { latestRunId, listRuns, loadRun } from '../records/read.js';
import type { RunRecord, StageRecord } from '../records/types.js';
import { findWorkspace } from '../records/workspace.js';
import { EXIT, ExitError, type CliIO } from './io.js';
import { positiveInt } from './options.js';
import { table } from './table.js';

export function registerShow(program: Command, io: CliIO): Command {
  return program
    .command('show')
    .description('show a past run (`latest` for the last one), or one of its stages by dotted path')
    .argument('<run>', 'run id, or latest')
    .argument('[stage]', 'stage path, e.g. build or build.generate')
    .option('--dir <dir>', 'the directory holding .factory (default: the current directory)')
    .option('--json', 'print the record as JSON')
    .option('--iteration <n>', 'for a stage inside a loop: the iteration to show (default: the last)', positiveInt)
    .action((runArg: string, stage: string | undefined, opts: { dir?: string; json?: boolean; iteration?: number }) => {
      const fail = (message: string): never => {
        io.stderr.write(`factory show: ${message}\n`);
        throw new ExitError(EXIT.usage);
      };
      const ws = findWorkspace(opts.dir, io.cwd);
      if (!ws.ok) return fail(ws.error);
      const id = runArg === 'latest' ? latestRunId(ws.dir) : runArg;
      if (id === undefined) return fail(`no runs in ${path.join(ws.dir, '.factory', 'runs')} yet`);
      const loaded = loadRun(ws.dir, id);
      if (!loaded.ok && loaded.unreadable) return fail(`the record of run ${id} cannot be read: ${loaded.error}`);
      if (!loaded.ok) {
        const ids = listRuns(ws.dir).map((r) => r.id);
        return fail(`${loaded.error}${didYouMean(id, ids)}${ids.length ? `; latest: ${ids.at(-1)}` : ''}`);
      }
      const { record, dir } = loaded;
      if (stage === undefined) {
        io.stdout.write(opts.json ? `${JSON.stringify(record, null, 2)}\n` : runText(ws.dir, record));
        return;
      }
      const found = findStage(record.stages, stage, opts.iteration);
      if (!found.ok) return fail(`run ${id} ${found.error}`);
      const { s, iteration } = found;
      const logs = (['stdout', 'stderr'] as const).map((stream) => ({ stream, file: logFile(dir, stage, stream, iteration) })).filter((l) => existsSync(l.file));
      if (opts.json) {
        io.stdout.write(`${JSON.stringify({ path: stage, ...(iteration === undefined ? {} : { iteration }), ...s, logs: Object.fromEntries(logs.map((l) => [l.stream, l.file])) }, null, 2)}\n`);
        return;
      }
      io.stdout.write(stageText(io.cwd, stage, s, logs, iteration));
    });
}

function runText(workspace: string, r: RunRecord): string {
  const ms = spanMs(r.started_at, r.ended_at);
  const head = [
    `run ${r.id}  ${r.name}`,
    `status ${shownStatus(workspace, r)}${r.exit_code === null ? '' : ` (exit ${r.exit_code})`} · started ${shortTime(r.started_at)} · ${ms === undefined ? 'not finished' : `took ${formatDuration(ms)}`} · stages ${stageCounts(r.stages)}`,
  ];
  const rows = Object.entries(r.stages).map(([p, s]) => {
    const d = spanMs(s.started_at, s.ended_at);
    return [p, s.status, s.reason ?? '-', d === undefined ? '-' : formatDuration(d), String(s.attempts), oneLine(s.message ?? '')];
  });
  return `${head.join('\n')}\n\n${table(['stage', 'status', 'reason', 'duration', 'attempts', 'message'], rows)}\n`;
}

type Found = { ok: true; s: StageRecord; iteration: number | undefined } | { ok: false; error: string };

/**
 * A stage by dotted path: a top-level entry, or a stage of a loop's body found in the loop's
 * iterations (the last one that ran it, or `--iteration N`).
 */
function findStage(stages: Record<string, StageRecord>, stagePath: string, iteration: number | undefined): Found {
  const top = stages[stagePath];
  if (top && iteration === undefined) return { ok: true, s: top, iteration: undefined };
  if (top) return { ok: false, error: `: stage "${stagePath}" is not inside a loop, so --iteration does not apply` };
  const all = allPaths(stages);
  const segments = stagePath.split('.');
  let level: Record<string, StageRecord> = stages;
  let found: { s: StageRecord; iteration: number } | undefined;
  for (let i = 1; i < segments.length; i++) {
    const loopPath = segments.slice(0, i).join('.');
    const loop = level[loopPath];
    if (!loop?.iterations) break;
    const last = i === segments.length - 1;
    const holding = loop.iterations.filter((it) => it.stages[last ? stagePath : segments.slice(0, i + 1).join('.')] !== undefined);
    if (holding.length === 0) break;
    const chosen = last && iteration !== undefined ? holding.find((it) => it.iteration === iteration) : holding.at(-1);
    if (!chosen) return { ok: false, error: `has no iteration ${iteration} of stage "${stagePath}"; iterations: ${holding.map((it) => it.iteration).join(', ')}` };
    if (last) found = { s: chosen.stages[stagePath]!, iteration: chosen.iteration };
    level = chosen.stages;
  }
  if (found) return { ok: true, ...found };
  return { ok: false, error: `has no stage "${stagePath}"${didYouMean(stagePath, all)}; stages: ${all.join(', ')}` };
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

/** A loop's iterations, each with its body's stages and their statuses. */
function iterationLines(s: StageRecord): string[] {
  if (!s.iterations?.length) return [];
  const lines = ['iterations'];
  for (const it of s.iterations) {
    const stages = Object.entries(it.stages).map(([p, b]) => `${p.slice(p.lastIndexOf('.') + 1)} ${b.status}${b.reason && b.status !== 'succeeded' ? ` (${b.reason})` : ''}`);
    lines.push(`  ${String(it.iteration).padStart(2)}  ${stages.join(' · ')}`);
  }
  return lines;
}

function stageText(cwd: string, stagePath: string, s: StageRecord, logs: { stream: string; file: string }[], iteration?: number): string {
  const d = spanMs(s.started_at, s.ended_at);
  const lines = [
    `stage ${stagePath}${iteration === undefined ? '' : ` (iteration ${iteration})`}`,
    `status    ${s.status}${s.reason ? ` (${s.reason})` : ''}${s.cached ? ', cached' : ''}`,
  ];
  if (s.message) lines.push(`message   ${s.message}`);
  lines.push(`started   ${shortTime(s.started_at)}`, `ended     ${shortTime(s.ended_at)}${d === undefined ? '' : `  (${formatDuration(d)})`}`, `attempts  ${s.attempts}`);
  for (const l of logs) lines.push(`${l.stream.padEnd(9)} ${path.relative(cwd, l.file) || l.file}`);
  if (logs.length === 0) lines.push('output    (none recorded)');
  lines.push(...iterationLines(s));
  lines.push('outputs');
  for (const [k, v] of Object.entries(s.outputs)) {
    const text = (typeof v === 'string' ? v : JSON.stringify(v, null, 2)).replace(/\n$/, '');
    lines.push(`  ${k}:${text.includes('\n') ? `\n${indent(text, '    ')}` : text === '' ? ' (empty)' : ` ${text}`}`);
  }
  return `${lines.join('\n')}\n`;
}

function indent(text: string, by: string): string {
  return text.split('\n').map((l) => by + l).join('\n');
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 80 ? `${first.slice(0, 79)}…` : first;
}
