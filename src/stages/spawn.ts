import type { ResultPromise } from 'execa';

/**
 * Starting a program through execa with the options that keep it cheap and safe for a runner
 * that streams output itself. Measured on 500 no-op spawns (bench/dag.mjs), execa's defaults
 * cost about 0.4 ms per spawn over child_process.spawn; what removes most of it:
 * - `buffer: false`: no get-stream collection (we capture and cap output ourselves);
 * - `encoding: 'buffer'` and `stripFinalNewline: false`: no decoding transforms on the streams,
 *   and binary output stays bytes;
 * - `stdin: 'ignore'`: no input stream to set up;
 * - `cleanup: false`, `forceKillAfterDelay: false`, no `timeout`/`cancelSignal`: no signal-exit
 *   hook and no timers per spawn; the engine kills the whole process group itself;
 * - `extendEnv: false` with a prepared env, no `preferLocal`, no `all`, no `lines`, no verbose.
 * execa itself is imported on first use: loading it costs ~60 ms, which a run without command
 * stages should not pay; `preloadExeca()` starts that import early, alongside config loading.
 */
type Execa = typeof import('execa').execa;

let loading: Promise<Execa> | undefined;

export function preloadExeca(): Promise<Execa> {
  loading ??= import('execa').then((m) => m.execa);
  return loading;
}

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

const FIXED = {
  extendEnv: false,
  stdin: 'ignore',
  stdout: 'pipe',
  stderr: 'pipe',
  buffer: false,
  encoding: 'buffer',
  stripFinalNewline: false,
  reject: false,
  cleanup: false,
  forceKillAfterDelay: false,
  detached: true,
  windowsHide: true,
} as const;

export type Subprocess = ResultPromise<typeof FIXED & { cwd: string; env: Record<string, string> }>;

/** Starts the program. The subprocess is wrapped: an async function must not return the (thenable) subprocess itself. */
export async function spawnCommand(req: SpawnRequest): Promise<{ child: Subprocess }> {
  const execa = await preloadExeca();
  return { child: execa(req.file, req.args, { ...FIXED, cwd: req.cwd, env: req.env }) };
}

