/**
 * Ending a command's whole process tree. Commands are spawned detached, so each leads its own
 * process group; signalling the group (negative pid) reaches the shell and every descendant
 * that stayed in it, including a grandchild that would otherwise outlive a killed shell.
 */

/** Time between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 1500;

export interface GroupKiller {
  /** Stops the pending SIGKILL; call it once the process and its pipes have closed. */
  done(): void;
}

/** Sends SIGTERM to the group now and SIGKILL after the grace period, unless `done()` came first. */
export function terminateGroup(pid: number, graceMs = KILL_GRACE_MS): GroupKiller {
  signalGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
  return { done: () => clearTimeout(timer) };
}

/** Signals a process group; a group that is already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: every member has exited already. EPERM cannot happen for our own children.
  }
}
