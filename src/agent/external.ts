import { realpathSync } from 'node:fs';
import { runProcess } from './process.js';
import type { Usage } from '../base/usage.js';
import type { Reason } from '../records/reasons.js';
import { SANDBOX_REFUSED, type SandboxPolicy } from '../process/sandbox.js';

/**
 * `agent: { run: [argv...] }`: a generate stage handed to an external coding agent CLI. The
 * prompt goes to its stdin; it runs without a shell in the workspace; an abort or the timeout
 * ends its whole process tree. Its stdout is searched for JSON usage (Claude Code's
 * `--output-format json` or `stream-json` result object, or any object with `usage`). What it
 * changed is found by the engine's snapshot, not here.
 */

/** Bytes of stdout kept for parsing (the result object is usually last). */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;
/** Characters of plain stdout used as the summary when no `result` is printed. */
const MAX_SUMMARY_CHARS = 8000;

export interface ExternalAgentOptions {
  /** The program and its arguments; never passed through a shell. */
  argv: readonly string[];
  prompt: string;
  workspace: string;
  signal: AbortSignal;
  timeoutMs?: number;
  /** The agent's whole environment; default: the process's (it needs its own API key). */
  env?: Record<string, string>;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Uint8Array) => void;
  /** Confines the agent (process/sandbox.ts). */
  sandbox?: SandboxPolicy;
}

export type ExternalAgentResult =
  | {
      ok: true;
      /** null when a signal ended it. */
      exitCode: number | null;
      signal: string | null;
      summary: string;
      usage?: Usage;
      cost_usd?: number;
      stdout: string;
      stderr: string;
    }
  | {
      ok: false;
      reason: Extract<Reason, { kind: 'spawn' | 'sandbox' | 'timeout' | 'cancelled' }>;
      message: string;
      usage?: Usage;
      cost_usd?: number;
      stdout: string;
      stderr: string;
    };

export async function runExternalAgent(options: ExternalAgentOptions): Promise<ExternalAgentResult> {
  const [file, ...args] = options.argv;
  if (file === undefined || file === '') return { ok: false, reason: { kind: 'spawn', program: '' }, message: 'agent.run is empty: give the program and its arguments', stdout: '', stderr: '' };
  let cwd: string;
  try {
    cwd = realpathSync.native(options.workspace);
  } catch {
    return { ok: false, reason: { kind: 'spawn', program: file }, message: `the workspace folder ${options.workspace} does not exist`, stdout: '', stderr: '' };
  }
  const result = await runProcess({
    file,
    args,
    cwd,
    env: options.env ?? definedEnv(process.env),
    input: options.prompt,
    signal: options.signal,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    maxOutputBytes: MAX_STDOUT_BYTES,
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    ...(options.sandbox ? { sandbox: options.sandbox } : {}),
  });
  if (!result.started) return { ok: false, reason: result.code === SANDBOX_REFUSED ? { kind: 'sandbox' } : { kind: 'spawn', program: file }, message: result.message, stdout: '', stderr: '' };
  const parsed = parseAgentOutput(result.stdout);
  const stderr = result.stderr.length > MAX_STDERR_BYTES ? result.stderr.slice(-MAX_STDERR_BYTES) : result.stderr;
  const charged = { ...(parsed.usage ? { usage: parsed.usage } : {}), ...(parsed.cost_usd !== undefined ? { cost_usd: parsed.cost_usd } : {}) };
  if (result.timedOut) {
    return { ok: false, reason: { kind: 'timeout', afterMs: options.timeoutMs ?? 0 }, message: `the agent did not finish within ${options.timeoutMs}ms and was killed`, ...charged, stdout: result.stdout, stderr };
  }
  if (result.aborted) return { ok: false, reason: { kind: 'cancelled' }, message: 'the agent was cancelled', ...charged, stdout: result.stdout, stderr };
  return { ok: true, exitCode: result.exitCode, signal: result.signal, summary: parsed.summary, ...charged, stdout: result.stdout, stderr };
}

export interface ParsedAgentOutput {
  summary: string;
  usage?: Usage;
  cost_usd?: number;
}

/**
 * Usage and summary from an agent's stdout: the whole output as one JSON object, or else the
 * last JSON line with `usage` (a `{"type":"result"}` line wins). The summary is its `result`
 * text, or else the end of stdout.
 */
export function parseAgentOutput(stdout: string): ParsedAgentOutput {
  const found = findUsageObject(stdout);
  const plain = stdout.trim();
  const fallback = plain.length > MAX_SUMMARY_CHARS ? plain.slice(-MAX_SUMMARY_CHARS) : plain;
  if (!found) return { summary: fallback };
  const out: ParsedAgentOutput = { summary: typeof found.result === 'string' ? found.result : fallback };
  const usage = toUsage(found.usage);
  if (usage) out.usage = usage;
  const cost = found.total_cost_usd ?? found.cost_usd;
  if (typeof cost === 'number' && Number.isFinite(cost) && cost >= 0) out.cost_usd = cost;
  return out;
}

type Json = Record<string, unknown>;

function findUsageObject(stdout: string): Json | undefined {
  const whole = parseObject(stdout.trim());
  if (whole && ('usage' in whole || 'result' in whole)) return whole;
  let best: Json | undefined;
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    const obj = parseObject(line);
    if (!obj) continue;
    if (obj.type === 'result') return obj;
    if (!best && isObject(obj.usage)) best = obj;
  }
  return best;
}

function parseObject(text: string): Json | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toUsage(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const n = (k: string): number => {
    const v = value[k];
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
  };
  return {
    input_tokens: n('input_tokens'),
    output_tokens: n('output_tokens'),
    cache_creation_input_tokens: n('cache_creation_input_tokens'),
    cache_read_input_tokens: n('cache_read_input_tokens'),
  };
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
