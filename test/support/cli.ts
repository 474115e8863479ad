/**
 * The one way tests run the CLI. Two paths, kept apart on purpose:
 *
 * - `runInProcess` calls the CLI's entry function in this process (no build needed, fast enough
 *   for corpora and fuzzing — DESIGN: corpora run in-process);
 * - `runBuilt`, `cli`, `start` and `startPty` spawn the built `bin/factory.js` as a user runs it
 *   (`npm run build` must have run: `npm test` does; call `requireBuild` in a `beforeAll`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/factory.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../dist/bundle/factory.js', import.meta.url));

/** What every spawned CLI gets over this process's environment: no colours, CI, fast retries. */
const SPAWN_ENV = { NO_COLOR: '1', CI: '1', FACTORY_RETRY_BASE_MS: '1' };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How a spawned CLI ended: `code` is null when a signal ended it. */
export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function requireBuild(): void {
  if (!existsSync(BUNDLE)) throw new Error('dist/ is missing: run `npm run build` before these tests');
}

/**
 * Runs the CLI's own entry function in this process, with captured output: the same code path
 * `bin/factory.js` takes, without a process. `env` is the whole environment the CLI sees (commands
 * it runs included): pass `{ ...process.env }` for a run that spawns commands needing PATH.
 */
export async function runInProcess(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    cwd,
    env: { ...env, NO_COLOR: '1' },
  });
  return { code, stdout, stderr };
}

/**
 * Spawns the built CLI and waits for it, blocking this process: only for runs that need nothing
 * from this process meanwhile (no fake server here). `input` is written to its stdin.
 */
export function runBuilt(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, input?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, ...SPAWN_ENV, ...env },
    encoding: 'utf8',
    input: input ?? '',
    timeout: 60_000,
  });
  return { code: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout, stderr: r.stderr };
}

/** A spawned CLI that a test can watch, talk to and signal while it runs. */
export interface Running {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr as they came so far. */
  output(): string;
  /** The JSON event lines of a `--json` run printed so far. */
  events(): Record<string, unknown>[];
  write(text: string): void;
  kill(signal: NodeJS.Signals): void;
  /** The first match of `pattern` in the output; rejects if the process ends first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** The first JSON event `pred` accepts; rejects if the process ends first or after `ms`. */
  waitFor(pred: (event: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  done: Promise<Done>;
}

/** The JSON event lines of a `--json` run's stdout (complete lines only: it may still be writing). */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .slice(0, stdout.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function watchProcess(child: ChildProcess): Running {
  let stdout = '';
  let stderr = '';
  let closed = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    notify();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    notify();
  });
  const done = new Promise<Done>((resolve) =>
    child.on('close', (code, signal) => {
      closed = true;
      notify();
      resolve({ code, signal, stdout, stderr });
    }),
  );
  function waitFor(what: RegExp | ((event: Record<string, unknown>) => boolean), ms = 20_000): Promise<unknown> {
    const find = () => (what instanceof RegExp ? (stdout + stderr).match(what) : events(stdout).find(what));
    return new Promise((resolve, reject) => {
      const stop = () => {
        listeners.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        const hit = find();
        if (hit) {
          stop();
          resolve(hit);
        } else if (closed) {
          stop();
          reject(new Error(`the process ended without printing ${String(what)}:\n${stdout}\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no ${String(what)} within ${ms}ms:\n${stdout}\n${stderr}`));
      }, ms);
      listeners.add(check);
      check();
    });
  }
  return {
    child,
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => stdout + stderr,
    events: () => events(stdout),
    write: (text) => child.stdin!.write(text),
    kill: (signal) => child.kill(signal),
    waitFor: waitFor as Running['waitFor'],
    done,
  };
}

/** Starts the built CLI without a terminal, as in CI, with its stdin open for `write`. */
export function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  return watchProcess(spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...SPAWN_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }));
}

/**
 * Runs the built CLI to its end without blocking this process (a fake server in this process
 * keeps answering), its stdin empty.
 */
export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Done> {
  return watchProcess(spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...SPAWN_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })).done;
}

/** Whether util-linux `script` can give a child a pseudo-terminal here. */
export const HAS_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The built CLI on a real pseudo-terminal: util-linux `script` runs it on a pty of 120×40,
 * forwards what the test writes as keystrokes and gives back everything drawn.
 */
export function startPty(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  const command = `stty cols 120 rows 40 2>/dev/null; exec ${[process.execPath, BIN, ...args].map(shellQuote).join(' ')}`;
  const { CI: _ci, ...rest } = process.env;
  return watchProcess(
    spawn('script', ['-qfec', command, '/dev/null'], {
      cwd,
      env: { ...rest, TERM: 'xterm-256color', NO_COLOR: '1', FACTORY_RETRY_BASE_MS: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Polls `cond` every 20 ms until it holds; fails naming `what` after `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms}ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
