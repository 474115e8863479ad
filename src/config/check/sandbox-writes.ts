import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile, type PathSegment } from '../load/load.js';
import { sandboxWritePath } from '../sandbox-paths.js';
import { isRecord } from '../../base/is-record.js';
import type { RawScope } from './scopes.js';

/** Kernel file systems: nothing a program writes there is a file, and bubblewrap cannot bind them. */
const UNREACHABLE_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * `sandbox.writes` paths the sandbox could not open: each must be a folder or file this machine
 * lets factory write, or a path that can be created under one. Checked before the run, at the
 * entry's line, because the sandbox would otherwise start a program whose allowed path is not there.
 */
export function checkSandboxWrites(loaded: LoadedFile, config: Record<string, unknown>, root: RawScope, workspace: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (sandbox: unknown, at: PathSegment[]) => {
    if (!isRecord(sandbox) || !Array.isArray(sandbox.writes)) return;
    sandbox.writes.forEach((entry, i) => {
      if (typeof entry !== 'string' || entry === '') return;
      const problem = unreachable(sandboxWritePath(entry, workspace));
      if (problem) {
        out.push(diagnostic(loaded.file, locate(loaded, [...at, 'writes', i]), 'sandbox-writes-unreachable', `sandbox writes "${entry}": ${problem}`, 'list a folder this user can write (relative to the workspace, absolute, or ~/…), or create it first'));
      }
    });
  };
  check(config.sandbox, ['sandbox']);
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      check(s.def.sandbox, [...s.yamlPath, 'sandbox']);
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}

/** Why the sandbox cannot open `abs` for writing, or undefined when it can. */
function unreachable(abs: string): string | undefined {
  const kernel = UNREACHABLE_ROOTS.find((r) => abs === r || abs.startsWith(`${r}/`));
  if (kernel) return `${abs} is in ${kernel}, which holds no files a program can be allowed to write`;
  let existing = abs;
  for (;;) {
    try {
      const stat = statSync(existing);
      if (existing !== abs && !stat.isDirectory()) return `${abs} cannot exist: ${existing} is a file, not a folder`;
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return `nothing of ${abs} exists`;
      existing = parent;
    }
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    return `${existing === abs ? abs : `${existing} (the part of ${abs} that exists)`} is not writable by this user, so the sandbox cannot open it`;
  }
  return undefined;
}
