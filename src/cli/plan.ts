import path from 'node:path';
import type { Command } from 'commander';
import { BUILTIN_DIR } from '../config/templates/template-ref.js';
import { budgetView, planRows, type BudgetView, type PlanRow } from '../config/describe.js';
import { estimatePipeline, type PipelineEstimate, type StageEstimate } from '../config/estimate.js';
import { loadPipeline } from '../config/index.js';
import { predictPipeline, type Prediction } from '../engine/cache/predict.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { collect, choice } from './options.js';
import { printDiagnostics } from './print-diagnostics.js';
import { fitTable } from '../ui/fit-table.js';
import { streamColumns } from '../ui/renderer.js';

export function registerPlan(program: Command, io: CliIO): Command {
  return program
    .command('plan')
    .description('show the resolved stages in execution order, with models, providers and budgets; calls no model')
    .argument('[file]', 'factory.yaml, or a directory holding one')
    .option('--set <id=value>', 'set a param (repeatable)', collect, [])
    .option('--format <format>', 'text or json', choice(['text', 'json'] as const), 'text')
    .option('--no-cache', 'show every stage as it would run with apply --no-cache')
    .option('--wide', 'every column in full, however wide (default: fit the terminal, or $COLUMNS)')
    .action((file: string | undefined, opts: { set: string[]; format: 'text' | 'json'; cache: boolean; wide?: boolean }) => {
      const result = loadPipeline(file, { cwd: io.cwd, set: opts.set, forRun: true });
      if (!result.ok) {
        printDiagnostics(io, result.diagnostics, result.sources);
        throw new ExitError(EXIT.usage);
      }
      printDiagnostics(io, result.warnings, result.sources);
      const { pipeline } = result;
      const rows = planRows(pipeline);
      const budget = budgetView(pipeline.config.budget);
      const estimate = estimatePipeline(pipeline);
      const worst = new Map(estimate.stages.map((e) => [e.path, e]));
      // Cached or will run, and why: fingerprints computed from the files as they are now.
      const predicted = predictPipeline(pipeline, { noCache: opts.cache === false });
      if (opts.format === 'json') {
        const stages = rows.map((r) => {
          const e = worst.get(r.path);
          const p = predicted.get(r.path);
          const cache = p ? { status: p.status, reason: p.reason, fingerprint: p.fingerprint ?? null } : null;
          return e ? { ...r, cache, worstCase: { calls: e.calls * e.iterations * e.instances, instances: e.instances, promptTokens: e.promptTokens, maxTokens: e.maxTokens, tokens: e.tokens, cost_usd: e.cost_usd ?? null } } : { ...r, cache };
        });
        const worstCase = { tokens: estimate.tokens, cost_usd: estimate.cost_usd, unpriced: estimate.unpriced };
        io.stdout.write(`${JSON.stringify({ version: 1, name: pipeline.name, file: pipeline.file, concurrency: pipeline.concurrency, params: pipeline.params, budget: budget ?? null, worstCase, stages }, null, 2)}\n`);
        return;
      }
      const width = opts.wide ? undefined : textWidth(io);
      const head = [`${pipeline.name}${pipeline.description ? ` — ${pipeline.description}` : ''}`,
        `${pipeline.file} · ${rows.length} stage${rows.length === 1 ? '' : 's'} · concurrency ${pipeline.concurrency} · budget ${budget ? formatBudget(budget) : 'none'}`];
      const params = Object.entries(pipeline.params);
      if (params.length) head.push(`params: ${params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`);
      // Where each stage came from matters once templates are merged: show it then.
      const fromTemplates = rows.some((r) => r.from !== pipeline.file);
      // Profiles matter once a pipeline has them: a column then, after the model.
      const profiles = rows.some((r) => r.profile !== undefined);
      const header = ['#', 'stage', 'kind', 'needs', 'if', 'model', ...(profiles ? ['profile'] : []), 'provider', 'budget', 'worst case', ...(fromTemplates ? ['from'] : []), 'cache'];
      const body = (compact: boolean) =>
        rows.map((r) => {
          const c = cells(r, compact);
          if (profiles) c.splice(6, 0, r.profile ?? '-');
          return [...c, worstCell(worst.get(r.path), compact), ...(fromTemplates ? [r.from === pipeline.file ? 'local' : templateName(r.from, io.cwd)] : []), cacheCell(predicted.get(r.path))];
        });
      const full = body(false);
      // One provider for every model stage: said once above the table when the table is narrowed.
      const providers = new Set(rows.map((r) => r.provider).filter((p) => p !== undefined));
      const oneProvider = providers.size === 1 ? [...providers][0] : undefined;
      // Too wide for the terminal: the short forms first (a nested stage by its id under its
      // loop, `12 calls × 3` for the worst case), then the columns that say least give up width.
      const fits = width === undefined || Math.max(...fitTable(header, full, undefined, []).split('\n').map((l) => l.length)) <= width;
      const col = (name: string) => header.indexOf(name);
      const shrink = [
        { column: col('cache'), min: 24 },
        { column: col('if'), min: 10 },
        { column: col('needs'), min: 10 },
        ...(fromTemplates ? [{ column: col('from'), min: 12 }] : []),
        { column: col('kind'), min: 10 },
        { column: col('stage'), min: 14 },
        { column: col('budget'), min: 10 },
        { column: col('model'), min: 10 },
        { column: col('cache'), min: 12 },
        { column: col('worst case'), min: 18 },
      ];
      let drawn: string;
      if (fits) drawn = fitTable(header, full, undefined, []);
      else if (oneProvider !== undefined) {
        const p = col('provider');
        const without = <T,>(cols: readonly T[]) => cols.filter((_c, i) => i !== p);
        head.push(`provider: ${oneProvider} (every model stage)`);
        const shifted = shrink.map((c) => ({ ...c, column: c.column > p ? c.column - 1 : c.column }));
        drawn = fitTable(without(header), body(true).map(without), width, shifted);
      } else drawn = fitTable(header, body(true), width, shrink);
      const foot = estimate.stages.length > 0 ? `\n\n${wrap(worstLine(estimate, budget), width)}` : '';
      io.stdout.write(`${head.map((l) => wrap(l, width)).join('\n')}\n\n${drawn}${foot}\n`);
    });
}

/** `cached`, `will run: SPEC.md changed`, `will run? depends on run-time values (...)`; `-` inside a loop (cached with it). */
function cacheCell(p: Prediction | undefined): string {
  if (!p) return '-';
  if (p.status === 'cached') return 'cached';
  return `${p.status === 'unknown' ? 'will run?' : 'will run:'} ${p.reason}`;
}

/** `builtin:NAME` for this package's templates, else the file as shown. */
function templateName(file: string, cwd: string): string {
  const abs = path.resolve(cwd, file);
  return abs.startsWith(BUILTIN_DIR) ? `builtin:${path.basename(abs).replace(/\.ya?ml$/, '')}` : file;
}

/**
 * The width plan's text fits: the terminal's when stdout is one, else $COLUMNS when set, else
 * none (a pipe or a file gets every column in full, as `--wide`).
 */
function textWidth(io: CliIO): number | undefined {
  const terminal = io.stdout.isTTY === true ? streamColumns(io.stdout) : undefined;
  if (terminal !== undefined) return terminal;
  const columns = Number(io.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

/** A line broken at spaces to fit `width` (continuation lines indented by two). */
function wrap(text: string, width: number | undefined): string {
  if (width === undefined || text.length <= width) return text;
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = `  ${word}`;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out.join('\n');
}

function cells(r: PlanRow, compact: boolean): string[] {
  const looped = r.maxIterations !== undefined ? `${r.kind} ×${r.maxIterations}` : r.kind;
  const kind = r.fanout ? `${looped}, ${r.fanout}` : looped;
  const name = compact ? r.path.slice(r.path.lastIndexOf('.') + 1) : r.path;
  const model = compact ? r.model?.replace(/^claude-/, '') : r.model;
  return [r.step, `${'  '.repeat(r.depth)}${name}`, kind, r.needs.join(', ') || '-', r.condition ?? '-', model ?? '-', r.provider ?? '-', r.budget ? formatBudget(r.budget) : '-'];
}

/** `9.4k tokens · $0.0912 (2 calls × 3 iterations)`; compact: `9.4k tok · $0.0912 (2×3)`. */
function worstCell(e: StageEstimate | undefined, compact = false): string {
  if (!e) return '-';
  const calls = e.calls * e.iterations * e.instances;
  if (compact) {
    const how = calls > 1 ? ` (${[e.calls, ...(e.iterations > 1 ? [e.iterations] : []), ...(e.instances > 1 ? [e.instances] : [])].join('×')})` : '';
    return `${formatTokens(e.tokens)} tok · ${e.cost_usd === undefined ? 'unpriced' : formatUsd(e.cost_usd)}${how}`;
  }
  const how = calls > 1 ? ` (${e.calls} call${e.calls === 1 ? '' : 's'}${e.iterations > 1 ? ` × ${e.iterations} iterations` : ''}${e.instances > 1 ? ` × ${e.instances} instances` : ''})` : '';
  return `${formatTokens(e.tokens)} tokens · ${e.cost_usd === undefined ? 'unpriced' : formatUsd(e.cost_usd)}${how}`;
}

/** The total against the run's budget. */
function worstLine(estimate: PipelineEstimate, budget: BudgetView | undefined): string {
  const total = `worst case: ${formatTokens(estimate.tokens)} tokens · ${formatUsd(estimate.cost_usd)}${estimate.unpriced.length ? ` (without ${estimate.unpriced.join(', ')}: no price)` : ''}`;
  const against: string[] = [];
  if (budget?.tokens !== undefined) against.push(`${formatTokens(budget.tokens)} tokens (${Math.round((estimate.tokens / budget.tokens) * 100)}%)`);
  if (budget?.cost_usd !== undefined) against.push(`$${budget.cost_usd} (${Math.round((estimate.cost_usd / budget.cost_usd) * 100)}%)`);
  if (against.length === 0) return `${total}; no run budget`;
  const over = (budget?.tokens !== undefined && estimate.tokens > budget.tokens) || (budget?.cost_usd !== undefined && estimate.cost_usd > budget.cost_usd);
  return `${total} against the budget of ${against.join(', ')}${over ? ' — over it: the budget stops the run before the worst case' : ' — within it'}`;
}

function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatBudget(b: BudgetView): string {
  const parts: string[] = [];
  if (b.tokens !== undefined) parts.push(`${formatTokens(b.tokens)} tokens`);
  if (b.cost_usd !== undefined) parts.push(`$${b.cost_usd}`);
  if (b.wall_time_ms !== undefined) parts.push(`${b.wall_time_ms / 60000 >= 1 ? `${+(b.wall_time_ms / 60000).toFixed(1)}m` : `${b.wall_time_ms / 1000}s`} wall`);
  return parts.join(', ');
}

function formatTokens(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(2)}M`;
  if (n >= 1_000) return `${+(n / 1_000).toFixed(1)}k`;
  return String(n);
}
