import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { terminateGroup } from './process-group.js';
import { FRAME, FrameReader, type SpawnMessage } from './spawner-protocol.js';
import type { SpawnRequest, SpawnResult, Started, Subprocess } from './spawn.js';

/**
 * factory's end of one spawn helper process (spawner-main.ts explains why it exists; the pool of
 * them is in spawner-pool.ts). A helper that dies loses no stage:
 * - a request it had not answered is started by `fallback` (in-process, through execa);
 * - a program it had started cannot be observed any more (its pipes went with the helper): its
 *   process group is killed and the stage ends in `error` with reason `spawn`, which the engine
 *   retries like any start failure.
 * Killing needs no round trip: programs lead their own process groups, which factory signals
 * directly (process-group.ts) whichever process started them.
 */
export class SpawnHelper {
  private readonly child: ChildProcess;
  private readonly toHelper: Socket;
  private readonly fromHelper: Socket;
  private readonly pending = new Map<number, HelperRequest>();
  private nextId = 1;
  /** Requests sent whose program has not been reported started (or failed) yet. */
  private unanswered = 0;
  private loaded = false;
  /** Resolves true once the helper reads requests, false if it died first. */
  readonly whenReady: Promise<boolean>;
  private resolveReady!: (ready: boolean) => void;
  private gone = false;
  private loadTimer: NodeJS.Timeout | undefined;
  /** Environments the helper keeps, by object identity; only ones seen twice are kept. */
  private readonly envIds = new Map<object, number>();
  private readonly envsSeen = new WeakSet<object>();

  constructor(
    script: string,
    private readonly fallback: (req: SpawnRequest) => Promise<Started>,
    private readonly onGone: (helper: SpawnHelper) => void = () => undefined,
    private readonly loadTimeoutMs = LOAD_TIMEOUT_MS,
  ) {
    // Its own process group (no Ctrl-C from the terminal: factory decides what to stop), nothing
    // printed, and no environment: each request brings its program's, and NODE_OPTIONS (a
    // --require that prints, say) must not reach the helper and garble its output.
    const env = process.env.LD_LIBRARY_PATH === undefined ? {} : { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH };
    this.child = spawn(process.execPath, [...HELPER_FLAGS, script], { stdio: ['pipe', 'pipe', 'ignore'], detached: true, env });
    this.whenReady = new Promise((resolve) => (this.resolveReady = resolve));
    this.toHelper = this.child.stdin as Socket;
    this.fromHelper = this.child.stdout as Socket;
    const reader = new FrameReader((kind, id, payload) => this.frame(kind, id, payload), () => this.stop());
    this.fromHelper.on('data', (chunk: Buffer) => reader.push(chunk));
    this.fromHelper.on('close', () => this.die());
    this.fromHelper.on('error', () => this.die());
    this.toHelper.on('error', () => this.die());
    this.child.on('error', () => this.die());
    // An idle helper never keeps factory alive; a request in flight does (see track()).
    this.child.unref();
    this.toHelper.unref();
    this.fromHelper.unref();
  }

  /** Whether it has loaded and is still there. */
  get ready(): boolean {
    return this.loaded && !this.gone;
  }

  /** Whether it is loading or ready (requests sent while it loads wait in its input pipe). */
  get alive(): boolean {
    return !this.gone;
  }

  /** Whether it is starting a program now, or has requests queued: another request would wait. */
  get busy(): boolean {
    return this.unanswered > 0;
  }

  /** Requests in flight. */
  get load(): number {
    return this.pending.size;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts a program through the helper; resolves once it runs (its pid known) or failed to start. */
  start(req: SpawnRequest): Promise<Started> {
    if (this.gone) return this.fallback(req);
    const id = this.nextId++;
    const request = new HelperRequest(req);
    this.track(id, request);
    this.unanswered++;
    const message: SpawnMessage = { s: id, f: req.file, a: req.args, c: req.cwd, e: this.env(req.env), ...(req.envAdd ? { x: { ...req.envAdd } } : {}) };
    this.toHelper.write(`${JSON.stringify(message)}\n`);
    return request.started;
  }

  /** Ends the helper; requests in flight are handled as when it dies. */
  stop(): void {
    this.child.kill('SIGKILL');
    this.die();
  }

  private env(env: Record<string, string>): number | Record<string, string> {
    const known = this.envIds.get(env);
    if (known !== undefined) return known;
    if (!this.envsSeen.has(env)) {
      this.envsSeen.add(env);
      return env;
    }
    if (this.envIds.size >= MAX_KEPT_ENVS) {
      const [oldest, id] = this.envIds.entries().next().value as [object, number];
      this.envIds.delete(oldest);
      this.toHelper.write(`${JSON.stringify({ d: id })}\n`);
    }
    const id = this.nextId++;
    this.envIds.set(env, id);
    this.toHelper.write(`${JSON.stringify({ v: id, env })}\n`);
    return id;
  }

  private track(id: number, request: HelperRequest): void {
    if (this.pending.size === 0) this.fromHelper.ref();
    this.pending.set(id, request);
    // A helper that never loads must not hold stages: give up on it, and they start here.
    if (!this.loaded && !this.loadTimer) {
      this.loadTimer = setTimeout(() => {
        if (!this.loaded) this.stop();
      }, this.loadTimeoutMs);
      this.loadTimer.unref();
    }
  }

  private untrack(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.fromHelper.unref();
  }

  private frame(kind: number, id: number, payload: Buffer): void {
    if (kind === FRAME.ready) {
      this.loaded = true;
      if (this.loadTimer) clearTimeout(this.loadTimer);
      this.resolveReady(true);
      return;
    }
    const request = this.pending.get(id);
    if (!request) return;
    switch (kind) {
      case FRAME.spawned:
        this.unanswered--;
        request.spawned(payload.readUInt32LE(0));
        break;
      case FRAME.stdout:
        request.stdout.emit(payload);
        break;
      case FRAME.stderr:
        request.stderr.emit(payload);
        break;
      case FRAME.failed: {
        const failure = this.json<{ code: string | null; message: string }>(payload);
        if (!failure) return;
        this.unanswered--;
        this.untrack(id);
        request.failed({ ...(failure.code === null ? {} : { code: failure.code }), originalMessage: failure.message });
        break;
      }
      case FRAME.exit: {
        const ending = this.json<[number | null, string | null]>(payload);
        if (!ending) return;
        this.untrack(id);
        const [code, signal] = ending;
        request.ended({ ...(code === null ? {} : { exitCode: code }), ...(signal === null ? {} : { signal }) });
        break;
      }
    }
  }

  /** A frame's JSON payload; one that does not parse ends the helper (its stages go on without it). */
  private json<T>(payload: Buffer): T | undefined {
    try {
      return JSON.parse(payload.toString('utf8')) as T;
    } catch {
      this.stop();
      return undefined;
    }
  }

  private die(): void {
    if (this.gone) return;
    this.gone = true;
    this.resolveReady(false);
    this.fromHelper.unref();
    this.onGone(this);
    for (const [id, request] of this.pending) {
      this.pending.delete(id);
      if (request.pid === undefined) {
        // Not started as far as we know: start it here instead.
        request.replace(this.fallback(request.req));
      } else {
        terminateGroup(request.pid);
        request.ended({ code: 'EHELPER', originalMessage: "factory's spawn helper exited while the program ran, so its output and exit code are lost; its process group was killed" });
      }
    }
  }
}

/**
 * V8 settings that keep the helper's memory, and so the cost of each fork, small: no JIT (its
 * code and the few lines of JS per request do not need one), no V8 worker threads, a small young
 * generation. Measured on 400 spawns of `true`: 0.83 ms per spawn() and 48 MB with them, 1.05 ms
 * and 58 MB without.
 */
const HELPER_FLAGS = ['--jitless', '--single-threaded', '--max-semi-space-size=1'];
const MAX_KEPT_ENVS = 8;
/** How long requests wait for a helper that has not loaded before it is given up (it takes ~40 ms). */
const LOAD_TIMEOUT_MS = 5000;

/** One program started through the helper, as command.ts sees it (the `Subprocess` of spawn.ts). */
class HelperRequest implements Subprocess {
  pid: number | undefined;
  readonly stdout = new ChunkSource();
  readonly stderr = new ChunkSource();
  /** Wraps the subprocess: a promise resolved with a thenable would adopt it instead. */
  readonly started: Promise<Started>;
  private readonly result: Promise<SpawnResult>;
  private resolveStarted!: (started: Started | Promise<Started>) => void;
  private resolveResult!: (result: SpawnResult) => void;

  constructor(readonly req: SpawnRequest) {
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    this.result = new Promise((resolve) => (this.resolveResult = resolve));
  }

  then<A = SpawnResult, B = never>(onDone?: ((r: SpawnResult) => A | PromiseLike<A>) | null, onError?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(onDone, onError);
  }

  spawned(pid: number): void {
    this.pid = pid;
    this.resolveStarted({ child: this });
  }

  failed(result: SpawnResult): void {
    this.resolveResult(result);
    this.resolveStarted({ child: this });
  }

  ended(result: SpawnResult): void {
    this.resolveResult(result);
  }

  replace(started: Promise<Started>): void {
    this.resolveStarted(started);
  }
}

/**
 * The output of a program started by the helper: chunks arrive before command.ts has had the
 * chance to listen (the spawned frame and the first output often come in one read), so they are
 * held until the first listener comes.
 */
class ChunkSource {
  private readonly listeners: ((chunk: Uint8Array) => void)[] = [];
  private held: Uint8Array[] | undefined;

  on(_event: 'data', fn: (chunk: Uint8Array) => void): this {
    this.listeners.push(fn);
    const held = this.held;
    this.held = undefined;
    if (held) for (const chunk of held) fn(chunk);
    return this;
  }

  emit(chunk: Uint8Array): void {
    if (this.listeners.length === 0) (this.held ??= []).push(chunk);
    else for (const fn of this.listeners) fn(chunk);
  }
}

/** The helper script: next to this module in dist/process, beside dist/bundle, or built from src. */
export function helperScript(): string | undefined {
  for (const candidate of ['./spawner-main.js', '../process/spawner-main.js', '../../dist/process/spawner-main.js']) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}
