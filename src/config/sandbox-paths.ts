import os from 'node:os';
import path from 'node:path';

/** A `sandbox.writes` entry as a path: `~/…` in the home folder, a relative one in the workspace. */
export function sandboxWritePath(entry: string, workspace: string, home: string = os.homedir()): string {
  if (entry === '~') return home;
  if (entry.startsWith('~/')) return path.join(home, entry.slice(2));
  return path.resolve(workspace, entry);
}
