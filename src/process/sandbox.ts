import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentialPaths, sandboxRuntime } from './sandbox-runtime.js';

/**
 * What a sandboxed program may do beyond reading the machine (the home folder's credential
 * paths excepted): write its workspace, its own temp folder and `writes`; reach `network`'s
 * domains through the runtime's proxy, and nothing else. Paths are absolute.
 */
export interface SandboxPolicy {
  workspace: string;
  writes: readonly string[];
  network: readonly string[];
}

/** A program that could not start because it could not be confined: it never runs unconfined. */
export const SANDBOX_REFUSED = 'ESANDBOX';

export interface ProgramLine {
  file: string;
  args: readonly string[];
}

export type Confined =
  | { ok: true; file: string; args: string[]; release: () => void }
  | { ok: false; message: string };

/**
 * The program line that runs `line` inside the sandbox (bubblewrap on Linux, Seatbelt on macOS),
 * and `release`, to call once it has ended: it removes the program's temp folder and closes its
 * network allowance. Every program factory starts for a sandboxed stage comes through here
 * (spawn.ts for command stages and scenario steps, agent/process.ts for run_command and external
 * agents), so all of them are confined the same way.
 */
export async function confine(line: ProgramLine, policy: SandboxPolicy): Promise<Confined> {
  const started = await sandboxRuntime();
  if (!started.ok) return started;
  const runtime = started.runtime;
  const missing = createWrites(policy.writes);
  if (missing) return { ok: false, message: missing };
  const temp = mkdtempSync(path.join(os.tmpdir(), 'factory-sandbox-'));
  // 128 random bits, as the runtime requires of an id its proxy matches an allow list by.
  const commandId = randomBytes(16).toString('base64url');
  const release = () => {
    runtime.unregisterCommandNetworkLists(commandId);
    rmSync(temp, { recursive: true, force: true });
  };
  try {
    if (policy.network.length > 0) runtime.registerCommandNetworkLists(commandId, { allowedDomains: [...policy.network] });
    // The runtime points TMPDIR at a folder all sandboxed programs share; the program's own comes last and wins.
    const command = `TMPDIR=${quote(temp)} exec ${[line.file, ...line.args].map(quote).join(' ')}`;
    const wrapped = await runtime.wrapWithSandboxArgv(
      command,
      '/bin/sh',
      { filesystem: { denyRead: credentialPaths(), allowWrite: [policy.workspace, temp, ...policy.writes], denyWrite: [] } },
      undefined,
      policy.workspace,
      { commandId, commandText: [line.file, ...line.args].join(' ') },
    );
    const [file, ...args] = wrapped.argv as [string, ...string[]];
    return { ok: true, file, args, release };
  } catch (err) {
    release();
    return { ok: false, message: `the sandbox could not wrap the program: ${(err as Error).message}` };
  }
}

/**
 * The sandbox can only open paths that exist (bubblewrap binds them): a `writes` entry not there
 * yet is made, as a folder. undefined when all are there, or why one cannot be made.
 */
function createWrites(writes: readonly string[]): string | undefined {
  for (const dir of writes) {
    if (existsSync(dir)) continue;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      return `sandbox writes "${dir}" does not exist and could not be created (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  return undefined;
}

/** A word for /bin/sh: single quotes, with any inside closed, escaped and reopened. */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The sentence a stage's record adds to a sandboxed program's failure, so the reader knows what was closed. */
export function confinementNote(policy: SandboxPolicy): string {
  const writes = ['the workspace', 'its temp folder', ...policy.writes].join(', ');
  const network = policy.network.length > 0 ? `network only to ${policy.network.join(', ')}` : 'no network';
  return `it ran in the sandbox: writes only to ${writes}; ${network}; ~/.ssh and other credential folders unreadable`;
}
