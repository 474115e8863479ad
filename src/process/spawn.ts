import { groupEnded, groupStarted } from '../records/process-groups.js';
import { confine, SANDBOX_REFUSED, type SandboxPolicy } from './sandbox.js';
import { helperPool, warmSpawnHelpers, type HelperPool } from './spawner-pool.js';

/**
 * Starting a command's program. They go through factory's spawn helpers (spawner-pool.ts,
 * spawner.ts): small processes whose forks are cheap. When helpers cannot be used
 * (FACTORY_SPAWN_HELPER=0, the script is missing, they died twice), and for a request a dying
 * helper had not answered, the program starts here, through execa.
 *
 * execa with the options that keep it cheap and safe for a runner that streams output itself.
 * Measured on 500 no-op spawns (bench/dag.mjs), execa's defaults cost about 0.4 ms per spawn over
 * child_process.spawn; what removes most of it:
 * - `buffer: false`: no get-stream collection (we capture and cap output ourselves);
 * - `encoding: 'buffer'` and `stripFinalNewline: false`: no decoding transforms on the streams,
 *   and binary output stays bytes;
 * - `stdin: 'ignore'`: no input stream to set up;
 * - `cleanup: false`, `forceKillAfterDelay: false`, no `timeout`/`cancelSignal`: no signal-exit
 *   hook and no timers per spawn; the engine kills the whole process group itself;
 * - `extendEnv: false` with a prepared env, no `preferLocal`, no `all`, no `lines`, no verbose.
 * execa itself is imported on first use: loading it costs ~60 ms of the main thread, which a run
 * whose programs all start through helpers should not pay.
 */
type Execa = typeof import('execa').execa;

let loading: Promise<Execa> | undefined;

/** execa, imported on first use (see above); the agent's processes start through it too. */
export function loadExeca(): Promise<Execa> {
  loading ??= import('execa').then((m) => m.execa);
  return loading;
}

/**
 * Gets starting programs ready, early (apply calls it as soon as the engine has loaded): starts
 * the first spawn helper, which loads while the run is set up; without helpers, imports execa.
 * (Named for what it did before helpers; `prepareSpawning` is the same.)
 */
export function preloadExeca(): Promise<unknown> {
  return prepareSpawning();
}

export function prepareSpawning(): Promise<unknown> {
  return warmSpawnHelpers() ? Promise.resolve() : loadExeca();
}

/** The helper pool, when helpers are in use. */
export function spawnHelpers(): HelperPool | undefined {
  return helperPool();
}

export interface SpawnRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /**
   * Set over `env` for this program alone (its TRACEPARENT): `env` can then stay the object every
   * stage shares, which the spawn helper keeps by id rather than receiving whole with each request.
   */
  envAdd?: Readonly<Record<string, string>>;
  /** Run it confined (sandbox.ts); when it cannot be, it does not run and ends with code ESANDBOX. */
  sandbox?: SandboxPolicy;
}

/** How a program ended, with the fields of execa's result that command stages read. */
export interface SpawnResult {
  /** Set when it exited; absent when killed by a signal or never started. */
  exitCode?: number;
  signal?: string;
  /** Why it could not start (ENOENT, EACCES, …), with the original message. */
  code?: string;
  originalMessage?: string;
}

export interface OutputSource {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
}

/** A started program: its pid (undefined when it could not start), its output, and awaiting it gives how it ended. */
export interface Subprocess extends PromiseLike<SpawnResult> {
  readonly pid?: number | undefined;
  readonly stdout: OutputSource | null;
  readonly stderr: OutputSource | null;
}

/** The subprocess is wrapped: a promise must not resolve with the (thenable) subprocess itself. */
export interface Started {
  child: Subprocess;
}

/** execa's options for every program factory starts itself (see above); the agent's add stdin and cleanup. */
export const EXECA_OPTIONS = {
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

/** Starts the program; resolves once it runs (pid known) or could not start (awaiting it says why). */
export async function spawnCommand(req: SpawnRequest): Promise<Started> {
  let release = () => {};
  let line = req;
  if (req.sandbox) {
    const confined = await confine(req, req.sandbox);
    if (!confined.ok) return refused(confined.message);
    release = confined.release;
    line = { file: confined.file, args: confined.args, cwd: req.cwd, env: req.env, ...(req.envAdd ? { envAdd: req.envAdd } : {}) };
  }
  const pool = spawnHelpers();
  const started = await (pool ? pool.start(line) : spawnHere(line));
  trackGroup(started.child);
  started.child.then(release, release);
  return started;
}

/** A program that was not started because it could not be confined: awaiting it says why. */
export function refused(message: string): Started {
  const result: SpawnResult = { code: SANDBOX_REFUSED, originalMessage: message };
  const child: Subprocess = { stdout: null, stderr: null, then: (done, failed) => Promise.resolve(result).then(done, failed) };
  return { child };
}

/**
 * Records the program's process group with the run's lock while it runs (records/process-groups.ts),
 * so that a run taking over after factory was killed can stop what this one left running.
 */
export function trackGroup(child: { readonly pid?: number | undefined } & PromiseLike<unknown>): void {
  const pgid = child.pid;
  if (pgid === undefined) return;
  groupStarted(pgid);
  const end = () => groupEnded(pgid);
  child.then(end, end);
}

/** Starts the program from this process, through execa. */
export async function spawnHere(req: SpawnRequest): Promise<Started> {
  const execa = await loadExeca();
  return { child: execa(req.file, req.args, { ...EXECA_OPTIONS, cwd: req.cwd, env: req.envAdd ? { ...req.env, ...req.envAdd } : req.env }) };
}
