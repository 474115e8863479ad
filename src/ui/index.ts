import type { CliIO } from '../base/io.js';
import type { ApprovalPrompt } from '../engine/approvals/approvals.js';
import { TerminalApprovalPrompt, type PromptSurface, type TtyInput } from './approval-prompt.js';
import { JsonRenderer } from './json.js';
import { PlainRenderer } from './plain.js';
import { QuietRenderer } from './quiet.js';
import type { Renderer } from './renderer.js';

/**
 * Renderers subscribe to the engine's events and print them; they decide nothing.
 * - `tty`: the listr2 stage tree on stderr;
 * - `plain`: timestamped lines on stderr, for CI logs;
 * - `json`: every event as one JSON line on stdout (docs/running.md);
 * - `quiet`: only errors, and the summary of a run that did not succeed, on stderr.
 * Every mode but json prints the summary table when a run finishes; `close()` flushes what is
 * left (a run that never finished still gets its summary) and resolves when all is written.
 */
export type RenderMode = 'tty' | 'plain' | 'json' | 'quiet';

export type { Renderer } from './renderer.js';
export { JsonRenderer } from './json.js';
export type { TtyOptions } from './listr.js';
export { PlainRenderer, type PlainOptions } from './plain.js';
export { QuietRenderer } from './quiet.js';
export { SummaryCollector, formatSummary } from './summary.js';

/**
 * `--json` wins over `--quiet`; otherwise the tree when stderr is an interactive terminal, CI
 * is not set (`CI=0`, `CI=false` and an empty CI count as not set) and TERM is not `dumb`. A
 * terminal that reports 0 columns (a pseudo-terminal without a size) gets plain lines, since
 * nothing can be drawn in no width.
 */
export function chooseMode(io: CliIO, flags: { json?: boolean; quiet?: boolean }): RenderMode {
  if (flags.json) return 'json';
  if (flags.quiet) return 'quiet';
  const { CI, TERM } = io.env;
  const ci = CI !== undefined && CI !== '' && CI !== '0' && CI.toLowerCase() !== 'false';
  const sizeless = (io.stderr as { columns?: unknown }).columns === 0;
  if (io.stderr.isTTY === true && !ci && TERM !== 'dumb' && !sizeless) return 'tty';
  return 'plain';
}

/** The tree (listr2) loads only for a terminal: loading it cost every other `apply` 35 ms. */
export async function createRenderer(mode: RenderMode, io: CliIO): Promise<Renderer> {
  switch (mode) {
    case 'tty':
      return new (await import('./listr.js')).TtyRenderer(io);
    case 'plain':
      return new PlainRenderer(io);
    case 'json':
      return new JsonRenderer(io);
    case 'quiet':
      return new QuietRenderer(io);
  }
}

/**
 * The approval prompt, when a human sits at this terminal: the live tree is drawn (not plain
 * lines, not --json, not --quiet) and stdin is a terminal that can be read key by key.
 * Otherwise none, and approvals wait for `factory approve`.
 */
export function approvalPrompt(io: CliIO, renderer: Renderer): ApprovalPrompt | undefined {
  const stdin: TtyInput | undefined = io.stdin;
  if (!drawsPrompts(renderer) || stdin?.isTTY !== true || typeof stdin.setRawMode !== 'function') return undefined;
  return new TerminalApprovalPrompt(stdin, renderer);
}

/** The live tree (TtyRenderer) is the one renderer that shows a prompt. */
function drawsPrompts(renderer: Renderer): renderer is Renderer & PromptSurface {
  return typeof (renderer as Partial<PromptSurface>).showPrompt === 'function';
}
