/**
 * Running a program for the agent (run_command, external agents): no shell, its own process
 * group so a timeout or an abort ends the whole tree, output kept up to a cap.
 */

/** Time between SIGTERM and SIGKILL when a process tree is ended. */
export const KILL_GRACE_MS = 1500;

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
  /** Bytes of each stream kept: the first quarter and the last three quarters. */
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

let loading: Promise<typeof import('execa').execa> | undefined;
function loadExeca(): Promise<typeof import('execa').execa> {
  loading ??= import('execa').then((m) => m.execa);
  return loading;
}

export async function runProcess(req: ProcessRequest): Promise<ProcessResult> {
  const execa = await loadExeca();
  const child = execa(req.file, [...req.args], {
    cwd: req.cwd,
    env: req.env,
    extendEnv: false,
    stdin: req.input === undefined ? 'ignore' : 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
    stripFinalNewline: false,
    reject: false,
    cleanup: true,
    forceKillAfterDelay: false,
    detached: true,
    windowsHide: true,
  });
  if (req.input !== undefined) {
    child.stdin?.on('error', () => {}); // a program that exits without reading its stdin is not an error
    child.stdin?.end(req.input);
  }
  const stdout = new CappedText(req.maxOutputBytes);
  const stderr = new CappedText(req.maxOutputBytes);
  child.stdout?.on('data', (chunk: Uint8Array) => {
    stdout.add(chunk);
    req.onOutput?.('stdout', chunk);
  });
  child.stderr?.on('data', (chunk: Uint8Array) => {
    stderr.add(chunk);
    req.onOutput?.('stderr', chunk);
  });

  let timedOut = false;
  let aborted = false;
  let killTimer: NodeJS.Timeout | undefined;
  const end = () => {
    if (child.pid === undefined || killTimer !== undefined) return;
    signalGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
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
  if (killTimer) clearTimeout(killTimer);

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

/** Signals a process group; a group that is already gone is not an error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: every member has exited already
  }
}

function startMessage(file: string, code: string | undefined, original: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return `could not start "${file}": no such program`;
    case 'EACCES':
      return `could not start "${file}": it is not executable`;
    default:
      return `could not start "${file}": ${original ?? code ?? 'unknown error'}`;
  }
}

/** The first quarter and the last three quarters of a stream, up to a byte cap, with a marker in between. */
export class CappedText {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;
  private readonly headCap: number;
  private readonly tailCap: number;

  constructor(cap: number) {
    this.headCap = Math.floor(cap / 4);
    this.tailCap = cap - this.headCap;
  }

  add(chunk: Uint8Array): void {
    let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.total += rest.length;
    if (this.headBytes < this.headCap) {
      const take = Math.min(this.headCap - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) this.tailBytes -= this.tail.shift()!.length;
  }

  text(): string {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (head.length + tail.length === this.total && this.total <= this.headCap + this.tailCap) return Buffer.concat([head, tail]).toString('utf8');
    if (tail.length > this.tailCap) tail = tail.subarray(tail.length - this.tailCap);
    const omitted = this.total - head.length - tail.length;
    return `${head.toString('utf8')}\n… [${omitted} bytes omitted] …\n${tail.toString('utf8')}`;
  }
}
