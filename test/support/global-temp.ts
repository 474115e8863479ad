import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * vitest's global setup: every temp folder the suite makes (test workspaces, spawned CLIs' own)
 * goes under one folder of this run, removed at the end, so runs do not pile up thousands of
 * folders in the machine's temp directory. Test workers and the processes they spawn inherit
 * TMPDIR, which os.tmpdir() reads on each call.
 */
export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), 'factory-tests-'));
  process.env.TMPDIR = root;
  return () => {
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
}
