import os from 'node:os';
import path from 'node:path';

/**
 * The one sandbox runtime of this process: @anthropic-ai/sandbox-runtime's SandboxManager,
 * loaded and started on the first sandboxed program (it starts the HTTP and SOCKS proxies every
 * sandboxed program's network goes through, which keep the process alive), stopped at the end of
 * the run. The session config opens nothing: each program gets its writes and its domains per
 * command (sandbox.ts).
 */
type Runtime = typeof import('@anthropic-ai/sandbox-runtime').SandboxManager;

/**
 * Places in the home folder that hold credentials: unreadable inside the sandbox. (On Linux a
 * path that does not exist when a program starts hides nothing, and needs nothing hidden.)
 */
export const CREDENTIAL_PATHS = ['.ssh', '.aws', '.azure', '.gnupg', '.kube', '.docker', '.netrc', '.npmrc', '.pypirc', '.git-credentials', '.config/gh', '.config/gcloud'];

/** What to install, by platform: said whenever the sandbox cannot start. */
export function installHint(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') return 'install bubblewrap, socat and ripgrep (Debian/Ubuntu: apt-get install bubblewrap socat ripgrep; Fedora: dnf install bubblewrap socat ripgrep)';
  if (platform === 'darwin') return 'install ripgrep (brew install ripgrep); sandbox-exec comes with macOS';
  return `the sandbox runs on Linux and macOS only, not on ${platform}: run this pipeline on one of those, or set sandbox: false`;
}

type Started = { ok: true; runtime: Runtime } | { ok: false; message: string };

let starting: Promise<Started> | undefined;

/** The started runtime, or why this machine cannot sandbox (with what to install). */
export function sandboxRuntime(): Promise<Started> {
  starting ??= start();
  return starting;
}

async function start(): Promise<Started> {
  let runtime: Runtime;
  try {
    runtime = (await import('@anthropic-ai/sandbox-runtime')).SandboxManager;
  } catch (err) {
    return { ok: false, message: `the sandbox runtime (@anthropic-ai/sandbox-runtime) did not load: ${(err as Error).message}; reinstall factory's dependencies (npm ci)` };
  }
  if (!runtime.isSupportedPlatform()) return { ok: false, message: `this machine cannot sandbox: ${installHint()}` };
  const deps = runtime.checkDependencies();
  if (deps.errors.length > 0) return { ok: false, message: `this machine cannot sandbox (${deps.errors.join('; ')}): ${installHint()}` };
  try {
    await runtime.initialize({
      network: { allowedDomains: [], deniedDomains: [] },
      filesystem: { denyRead: credentialPaths(), allowWrite: [], denyWrite: [] },
    });
  } catch (err) {
    return { ok: false, message: `the sandbox did not start: ${(err as Error).message}` };
  }
  return { ok: true, runtime };
}

/** The credential paths of the home folder factory runs with. */
export function credentialPaths(home: string = os.homedir()): string[] {
  return CREDENTIAL_PATHS.map((p) => path.join(home, p));
}

/** Stops the runtime's proxies, if it was started: the end of a run (engine/run.ts). */
export async function stopSandbox(): Promise<void> {
  const was = starting;
  if (!was) return;
  starting = undefined;
  const started = await was;
  if (started.ok) await started.runtime.reset();
}
