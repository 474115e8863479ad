import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Isolated copies of the workspace for fan-out instances (section 13). Every file is copied with
 * `copyFile(…, COPYFILE_FICLONE)`: a reflink (copy-on-write, no data copied) where the file
 * system offers one (btrfs, XFS, APFS), a kernel-side copy elsewhere (ext4). Never hard links:
 * an edit in place in the copy would change the original. `.git` and `.factory` are left out
 * (the records and the copies themselves live there), and `node_modules` becomes a symbolic
 * link to the original, which no stage writes (patches never touch it) and which is often the
 * biggest folder by far.
 */
const SKIPPED = new Set(['.git', '.factory']);
const LINKED = new Set(['node_modules']);
/** Copies in flight at once: enough to keep the thread pool busy, few enough not to run out of descriptors. */
const PARALLEL = 32;

export interface CopyStats {
  files: number;
  bytes: number;
}

/**
 * Copies `source` into `dest` (removed first if it exists). Resolves with what was copied;
 * rejects with the file system's error, for the caller to report as the instance's error.
 */
export async function copyWorkspace(source: string, dest: string): Promise<CopyStats> {
  await fs.rm(dest, { recursive: true, force: true });
  await fs.mkdir(dest, { recursive: true });
  const files: [string, string][] = [];
  await walk(source, dest, files);
  const stats: CopyStats = { files: files.length, bytes: 0 };
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const [from, to] = files[next++]!;
      await fs.copyFile(from, to, constants.COPYFILE_FICLONE);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
  return stats;
}

/** Makes the folders and links at once, and lists the files to copy. */
async function walk(from: string, to: string, files: [string, string][]): Promise<void> {
  const entries = await fs.readdir(from, { withFileTypes: true });
  const folders: Promise<void>[] = [];
  for (const entry of entries) {
    if (SKIPPED.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (LINKED.has(entry.name) && entry.isDirectory()) {
      folders.push(fs.symlink(src, dst, 'dir'));
    } else if (entry.isDirectory()) {
      folders.push(fs.mkdir(dst).then(() => walk(src, dst, files)));
    } else if (entry.isSymbolicLink()) {
      folders.push(fs.readlink(src).then((target) => fs.symlink(target, dst)));
    } else if (entry.isFile()) {
      files.push([src, dst]);
    }
  }
  await Promise.all(folders);
}

/** Removes a copy (or the folder of a run's copies); a missing one is fine. */
export async function removeCopy(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
