import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDenied, resolveInWorkspace } from '../../workspace/confine.js';
import type { ToolContext } from './types.js';

/** Folders never walked into: dependencies are not the agent's to browse (it may still read them by path). */
const SKIPPED_DIRS = new Set(['node_modules']);

/** Entries looked at before a walk gives up, so a huge tree cannot stall the stage. */
export const MAX_WALK_ENTRIES = 50_000;

export interface WalkEntry {
  /** Workspace-relative POSIX path. */
  rel: string;
  abs: string;
  kind: 'file' | 'dir-link' | 'file-link';
}

export interface WalkResult {
  entries: WalkEntry[];
  /** True when MAX_WALK_ENTRIES was reached. */
  truncated: boolean;
}

/**
 * Every regular file under a folder (given by its confined real location), depth first in name
 * order, leaving out denied paths and node_modules. Symbolic links are not followed: a link is
 * reported only when confinement accepts its target, and a linked folder is not walked into.
 */
export function walk(ctx: ToolContext, dirAbs: string, dirRel: string, visit: (entry: WalkEntry) => boolean | void): WalkResult {
  const entries: WalkEntry[] = [];
  let seen = 0;
  let stop = false;
  const recurse = (abs: string, rel: string): void => {
    let names;
    try {
      names = readdirSync(abs, { withFileTypes: true });
    } catch {
      return; // unreadable folder: left out
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const dirent of names) {
      if (stop || ctx.signal.aborted) return;
      if (++seen > MAX_WALK_ENTRIES) {
        stop = true;
        return;
      }
      const childRel = rel === '' ? dirent.name : `${rel}/${dirent.name}`;
      const childAbs = path.join(abs, dirent.name);
      if (isDenied(childRel, ctx.deny)) continue;
      if (dirent.isDirectory()) {
        if (!SKIPPED_DIRS.has(dirent.name)) recurse(childAbs, childRel);
      } else if (dirent.isFile()) {
        const entry: WalkEntry = { rel: childRel, abs: childAbs, kind: 'file' };
        entries.push(entry);
        if (visit(entry) === false) stop = true;
      } else if (dirent.isSymbolicLink()) {
        const target = resolveInWorkspace(ctx.workspace, childRel, { deny: ctx.deny, mode: 'read' });
        if (!target.ok) continue;
        let isDir: boolean;
        try {
          isDir = statSync(target.abs).isDirectory();
        } catch {
          continue; // dangling
        }
        const entry: WalkEntry = { rel: childRel, abs: target.abs, kind: isDir ? 'dir-link' : 'file-link' };
        entries.push(entry);
        if (visit(entry) === false) stop = true;
      }
    }
  };
  recurse(dirAbs, dirRel);
  return { entries, truncated: seen > MAX_WALK_ENTRIES };
}
