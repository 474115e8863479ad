import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A temp folder removed when the benchmark's process exits, however it ends. */
export function tempDir(prefix, base = tmpdir()) {
  const dir = mkdtempSync(path.join(base, prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
