import { CappedCapture } from '../process/capture.js';
import { terminateGroup, type GroupKiller } from '../process/process-group.js';
import { spawnCommand } from '../process/spawn.js';
import { SANDBOX_REFUSED, type SandboxPolicy } from '../process/sandbox.js';
import type { StartProcess } from '../records/events.js';

/** Bytes of each stream a step keeps (for expectations, the judge's transcript and feedback). */
export const STEP_OUTPUT_CAP = 64 * 1024;

export interface StepRun {
  /** The command as written: a string for `sh -c`, or the argv. */
  command: string;
  /** The exit code; null when the step was killed or could not start. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The step did not finish within its time limit and its process tree was killed. */
  timedOut: boolean;
  /** The run was interrupted (or the stage timed out) while the step ran. */
  cancelled: boolean;
  /** The program could not be started (argv naming a missing file). */
  spawnError?: string;
  durationMs: number;
}

export interface StepOptions {
  cwd: string;
  env: Record<string, string>;
  /** Milliseconds; undefined for none. */
  timeoutMs: number | undefined;
  signal: AbortSignal;
  /** Confines the command (process/sandbox.ts). */
  sandbox?: SandboxPolicy;
  /** Tells the run about the step's program: its TRACEPARENT, and how it ended (docs/telemetry.md). */
  startProcess?: StartProcess;
}

/** Shows an argv the way a shell user would type it. */
export function commandText(run: string | readonly string[]): string {
  if (typeof run === 'string') return run;
  return run.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Runs one setup command or step in the workspace: a string through `sh -c`, an argv without a
 * shell, in its own process group, so a timeout or an interruption kills the whole tree.
 */
export async function runStep(run: string | readonly string[], options: StepOptions): Promise<StepRun> {
  const started = Date.now();
  const command = commandText(run);
  const [file, args] = typeof run === 'string' ? ['/bin/sh', ['-c', run]] : [run[0]!, run.slice(1)];
  const base = { command, stdout: '', stderr: '', timedOut: false, cancelled: false };
  if (options.signal.aborted) return { ...base, exitCode: null, cancelled: true, durationMs: 0 };
  const stdout = new CappedCapture(STEP_OUTPUT_CAP);
  const stderr = new CappedCapture(STEP_OUTPUT_CAP);
  const span = options.startProcess?.(file, 'step');
  const { child } = await spawnCommand({ file, args: [...args], cwd: options.cwd, env: span ? { ...options.env, ...span.env } : options.env, ...(options.sandbox ? { sandbox: options.sandbox } : {}) });
  child.stdout?.on('data', (chunk: Uint8Array) => stdout.add(chunk));
  child.stderr?.on('data', (chunk: Uint8Array) => stderr.add(chunk));
  let killer: GroupKiller | undefined;
  let timedOut = false as boolean; // set by the timer: `as boolean` stops TypeScript narrowing it to false
  const kill = () => {
    if (child.pid !== undefined && !killer) killer = terminateGroup(child.pid);
  };
  const onAbort = () => kill();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const result = await child;
  span?.end({ exitCode: result.exitCode, signal: result.signal, error: result.code });
  if (timer) clearTimeout(timer);
  options.signal.removeEventListener('abort', onAbort);
  killer?.done();
  const out = {
    command,
    stdout: stdout.text('the step transcript'),
    stderr: stderr.text('the step transcript'),
    timedOut,
    cancelled: !timedOut && options.signal.aborted,
    durationMs: Date.now() - started,
  };
  if (result.exitCode === undefined && result.signal === undefined) {
    if (result.code === SANDBOX_REFUSED) return { ...out, exitCode: null, spawnError: `could not start "${command}" in the sandbox: ${result.originalMessage ?? 'unknown error'}` };
    const why = result.code === 'ENOENT' ? 'no such program' : result.code === 'EACCES' ? 'not executable' : (result.originalMessage ?? result.code ?? 'unknown error');
    return { ...out, exitCode: null, spawnError: `could not start ${typeof run === 'string' ? 'the shell /bin/sh' : `"${file}"`}: ${why}` };
  }
  return { ...out, exitCode: result.exitCode ?? null };
}
