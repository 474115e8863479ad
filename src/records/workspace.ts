import { statSync } from 'node:fs';
import path from 'node:path';

/**
 * The directory whose `.factory/` holds the records, found the way `apply` finds its file: the
 * current directory, a directory given, or the directory of a factory.yaml given.
 */
export function findWorkspace(target: string | undefined, cwd: string): { ok: true; dir: string } | { ok: false; error: string } {
  const given = path.resolve(cwd, target ?? '.');
  try {
    return { ok: true, dir: statSync(given).isDirectory() ? given : path.dirname(given) };
  } catch {
    return { ok: false, error: `no such file or directory: ${target ?? given}` };
  }
}
