import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { latestRunDir, latestRunJson, workspaceWith } from '../../support/workspace-files.js';

export const BIN = fileURLToPath(new URL('../../../bin/factory.js', import.meta.url));
const DIST = fileURLToPath(new URL('../../../dist/bundle/factory.js', import.meta.url));

export function requireBuild(): void {
  if (!existsSync(DIST)) throw new Error('dist/ is missing: run `npm run build` before these tests');
}

/** Whether util-linux `script` can give a child a pseudo-terminal here. */
export const HAS_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A spawned CLI that a test can watch while it runs. */
export interface Running {
  pid: number;
  /** stdout and stderr as they came so far. */
  output(): string;
  write(text: string): void;
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the first match of `pattern` in the output. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  done: Promise<Done>;
}

/**
 * Git and user settings for the answering identity: with `name`, a global git config that sets
 * `user.name`; without, no git name at all, so `$USER` is taken.
 */
export function identityEnv(dir: string, name?: string, user = 'ada'): NodeJS.ProcessEnv {
  let global = '/dev/null';
  if (name !== undefined) {
    global = path.join(dir, '.gitconfig-test');
    writeFileSync(global, `[user]\n\tname = ${name}\n`);
  }
  return { GIT_CONFIG_GLOBAL: global, GIT_CONFIG_NOSYSTEM: '1', USER: user };
}

function watchProcess(child: ReturnType<typeof spawn>): Running {
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
    notify();
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    notify();
  });
  const done = new Promise<Done>((resolve) => child.on('close', (code) => {
    notify();
    resolve({ code, stdout, stderr });
  }));
  let closed = false;
  void done.then(() => (closed = true));
  return {
    pid: child.pid!,
    output: () => stdout + stderr,
    write: (text) => child.stdin!.write(text),
    kill: (signal) => child.kill(signal),
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (stdout + stderr).match(pattern);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          } else if (closed) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`the process ended without printing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${pattern} within ${ms}ms:\n${stdout}\n${stderr}`));
        }, ms);
        listeners.add(check);
        void done.then(check);
        check();
      });
    },
    done,
  };
}

/** The built CLI without a terminal, as in CI. */
export function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  return watchProcess(
    spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', CI: '1', FACTORY_RETRY_BASE_MS: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Runs the built CLI to its end (asynchronously: a fake server in this process keeps answering). */
export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Done> {
  const r = start(args, cwd, env);
  return r.done;
}

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

/** `factory approve RUN STAGE [--dir DIR]` as printed by a waiting run, split into arguments. */
export const COMMAND = /factory approve (\S+) (\S+)(?: --dir (\S+))?/;

export function workspace(yaml: string, files: Record<string, string> = {}): string {
  return workspaceWith('factory-approve-', { 'factory.yaml': yaml, ...files });
}

export const runDirOf = latestRunDir;
export const runJson = latestRunJson;

/** The JSON events a `--json` run printed so far. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
