import { CappedCapture } from '../process/capture.js';
import { terminateGroup, type GroupKiller } from '../process/process-group.js';
import { EXECA_OPTIONS, loadExeca, trackGroup } from '../process/spawn.js';

/**
 * Running a program for the agent (run_command, external agents): no shell, its own process
 * group so a timeout or an abort ends the whole tree (process-group.ts, as for command stages),
 * output kept up to a cap (capture.ts). Unlike a command stage's program it may be given stdin,
 * so it starts here through execa, never through a spawn helper.
 */

export interface ProcessRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin, which is then closed; stdin is ignored without it. */
  input?: string;
  signal: AbortSignal;
  /** Ends the process tree after this many milliseconds. */
  timeoutMs?: number;
  /** Bytes of each stream kept: the first quarter and the last three quarters (an agent reads the end: the failures). */
  maxOutputBytes: number;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Uint8Array) => void;
}

export type ProcessResult =
  | {
      started: true;
      exitCode: number | null;
      /** The signal that ended it, when one did. */
      signal: string | null;
      timedOut: boolean;
      aborted: boolean;
      stdout: string;
      stderr: string;
    }
  | { started: false; code: string | undefined; message: string };

export async function runProcess(req: ProcessRequest): Promise<ProcessResult> {
  const execa = await loadExeca();
  const child = execa(req.file, [...req.args], {
    ...EXECA_OPTIONS,
    cwd: req.cwd,
    env: req.env,
    stdin: req.input === undefined ? 'ignore' : 'pipe',
    // An agent's program is killed with factory, were factory to die before it.
    cleanup: true,
  });
  trackGroup(child);
  if (req.input !== undefined) {
    child.stdin?.on('error', () => {}); // a program that exits without reading its stdin is not an error
    child.stdin?.end(req.input);
  }
  const stdout = new CappedCapture(req.maxOutputBytes, { headShare: 0.25 });
  const stderr = new CappedCapture(req.maxOutputBytes, { headShare: 0.25 });
  child.stdout.on('data', (chunk: Uint8Array) => {
    stdout.add(chunk);
    req.onOutput?.('stdout', chunk);
  });
  child.stderr.on('data', (chunk: Uint8Array) => {
    stderr.add(chunk);
    req.onOutput?.('stderr', chunk);
  });

  let timedOut = false;
  let aborted = false;
  let killer: GroupKiller | undefined;
  const end = () => {
    if (child.pid === undefined || killer !== undefined) return;
    killer = terminateGroup(child.pid);
  };
  const onAbort = () => {
    aborted = true;
    end();
  };
  req.signal.addEventListener('abort', onAbort, { once: true });
  if (req.signal.aborted) onAbort();
  const timer =
    req.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          end();
        }, req.timeoutMs);

  const result = await child;
  req.signal.removeEventListener('abort', onAbort);
  if (timer) clearTimeout(timer);
  killer?.done();

  if (result.exitCode === undefined && result.signal === undefined) {
    return { started: false, code: result.code, message: startMessage(req.file, result.code, result.originalMessage) };
  }
  return {
    started: true,
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut,
    aborted,
    stdout: stdout.text(),
    stderr: stderr.text(),
  };
}

function startMessage(file: string, code: string | undefined, original: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return `could not start "${file}": no such program`;
    case 'EACCES':
      return `could not start "${file}": it is not executable`;
    case undefined:
    default:
      return `could not start "${file}": ${original ?? code ?? 'unknown error'}`;
  }
}
