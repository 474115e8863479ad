import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Matcher } from './matcher.js';

/**
 * Workspace confinement: the one function that turns a path an agent named into a real location
 * on disk, or refuses it. Every tool goes through `resolveInWorkspace`; nothing else in the agent
 * touches a path the model wrote.
 */

export type ConfinementReason =
  | 'not_a_string'
  | 'empty'
  | 'nul_byte'
  | 'control_character'
  | 'too_long'
  | 'absolute'
  | 'home'
  | 'escapes'
  | 'symlink_escape'
  | 'symlink_loop'
  | 'denied'
  | 'not_writable'
  | 'workspace';

export type ConfineMode = 'read' | 'write' | 'list';

export interface ConfinePolicy {
  /** Globs the agent may neither read nor write (see `createDenyMatcher`). Reserved names are refused whatever it holds. */
  deny: Matcher;
  /** With mode `write`: globs the agent may write; absent = anything not denied. */
  writes?: Matcher;
  mode: ConfineMode;
}

export type Confined =
  | {
      ok: true;
      /** The real absolute location (symlinks resolved), where the tool reads or writes. */
      abs: string;
      /** That location relative to the workspace's real path, POSIX separators; '' for the workspace itself. */
      rel: string;
      /** The path as the agent named it, normalised (may differ from `rel` through an inside symlink). */
      requested: string;
    }
  | { ok: false; reason: ConfinementReason; message: string };

const MAX_PATH_CHARS = 4096;
const MAX_SEGMENT_BYTES = 255;
const MAX_LINK_HOPS = 40;
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL = /[\u0001-\u001f\u007f]/;
/** Code points that HFS+/APFS ignore or that render as nothing: `.g\u200cit` is `.git` there. */
// eslint-disable-next-line no-misleading-character-class -- combining marks are matched one by one on purpose
const IGNORABLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]/gu;

export function resolveInWorkspace(workspace: string, requested: unknown, policy: ConfinePolicy): Confined {
  const lexical = normalise(requested);
  if (!lexical.ok) return lexical;
  const { rel: lexRel, shown } = lexical;
  if (lexRel === '' && policy.mode === 'write') return refuse('workspace', `${shown} names the workspace folder itself, not a file`);
  const deniedLex = deniedBy(lexRel, policy.deny);
  if (deniedLex) return refuse('denied', `${shown} is off-limits to the agent (${deniedLex}); it may not be read, listed or written`);

  let root: string;
  try {
    root = realpathSync.native(workspace);
  } catch {
    return refuse('workspace', 'the workspace folder does not exist');
  }
  const real = resolveReal(root, lexRel === '' ? [] : lexRel.split('/'));
  if (!real.ok) {
    return real.loop
      ? refuse('symlink_loop', `${shown} goes through too many symbolic links (a loop?)`)
      : refuse('symlink_escape', `${shown} goes through a symbolic link that leads outside the workspace; refused`);
  }
  if (real.abs !== root && !real.abs.startsWith(root.endsWith(path.sep) ? root : root + path.sep)) {
    return refuse('symlink_escape', `${shown} goes through a symbolic link that leads outside the workspace; refused`);
  }
  const rel = path.relative(root, real.abs).split(path.sep).join('/');
  if (rel !== lexRel) {
    const deniedReal = deniedBy(rel, policy.deny);
    if (deniedReal) return refuse('denied', `${shown} goes through a symbolic link to "${rel}", which is off-limits to the agent (${deniedReal})`);
  }
  if (policy.mode === 'write') {
    if (rel === '') return refuse('workspace', `${shown} leads to the workspace folder itself, not a file`);
    const writes = policy.writes;
    if (writes && !(writes.matches(lexRel) && writes.matches(rel))) {
      return refuse('not_writable', `${shown} is outside what this stage may write (writes: ${writes.patterns.join(', ') || 'nothing'})`);
    }
  }
  return { ok: true, abs: real.abs, rel, requested: lexRel };
}

/** Whether the agent may see a workspace-relative POSIX path at all (reserved names or the deny list). */
export function isDenied(rel: string, deny: Matcher): boolean {
  return deniedBy(rel, deny) !== undefined;
}

type Lexical = { ok: true; rel: string; shown: string } | { ok: false; reason: ConfinementReason; message: string };

/** The checks that need no disk: type, characters, absolute forms, `~`, and `..` leaving the root. */
function normalise(requested: unknown): Lexical {
  if (typeof requested !== 'string') return refuse('not_a_string', `path must be a string, got ${describeType(requested)}`);
  if (requested.trim() === '') return refuse('empty', 'path is empty; give a path relative to the workspace, e.g. "src/index.ts"');
  if (requested.includes('\0')) return refuse('nul_byte', 'path contains a NUL byte');
  if (CONTROL.test(requested)) return refuse('control_character', 'path contains a control character (newline, tab, escape …)');
  if (requested.length > MAX_PATH_CHARS) return refuse('too_long', `path is ${requested.length} characters long, over the ${MAX_PATH_CHARS} limit`);
  const shown = JSON.stringify(requested.length > 200 ? `${requested.slice(0, 200)}…` : requested);
  if (/^[\\/]/.test(requested) || /^[A-Za-z]:/.test(requested)) {
    return refuse('absolute', `${shown} is an absolute path; paths are relative to the workspace (e.g. "src/index.ts")`);
  }
  const parts = requested.replace(/\\/g, '/').split('/');
  if (parts[0]!.startsWith('~')) return refuse('home', `${shown} refers to a home folder; paths are relative to the workspace`);
  const stack: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return refuse('escapes', `${shown} leads outside the workspace (through "..")`);
      stack.pop();
      continue;
    }
    if (Buffer.byteLength(part) > MAX_SEGMENT_BYTES) return refuse('too_long', `${shown} has a name over ${MAX_SEGMENT_BYTES} bytes`);
    stack.push(part);
  }
  return { ok: true, rel: stack.join('/'), shown };
}

/** Why a relative path is denied, or undefined. Reserved names are checked in any case and at any depth. */
function deniedBy(rel: string, deny: Matcher): string | undefined {
  if (rel === '') return undefined;
  for (const segment of rel.split('/')) {
    const reserved = reservedName(segment);
    if (reserved) return reserved;
  }
  return deny.matches(rel) ? 'a deny glob of this stage' : undefined;
}

/** `.git`, `.env`, `.env.*`, `.factory` in any case, with ignorable code points, compatibility forms or trailing dots and spaces (Windows), and 8.3 short names. */
function reservedName(segment: string): string | undefined {
  const folded = segment.normalize('NFKC').replace(IGNORABLE, '').toLowerCase().replace(/[. ]+$/, '');
  if (folded === '.git' || /^git~\d+$/.test(folded)) return 'git metadata';
  if (folded === '.env' || folded.startsWith('.env.')) return 'secrets';
  if (folded === '.factory') return "factory's own records";
  return undefined;
}

type Real = { ok: true; abs: string } | { ok: false; loop: boolean };

/**
 * Walks the path from the workspace's real location one name at a time, following every
 * symbolic link (dangling ones too, since writing through one creates its target), so that the
 * result is where the file really is or would be created.
 */
function resolveReal(root: string, segments: string[]): Real {
  let current = root;
  const queue = [...segments];
  let hops = 0;
  let missing = false;
  while (queue.length > 0) {
    const segment = queue.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, segment);
    if (missing) {
      current = next;
      continue;
    }
    let isLink = false;
    try {
      isLink = lstatSync(next).isSymbolicLink();
    } catch {
      missing = true; // nothing below a missing (or unreadable) name exists, so no link can follow
      current = next;
      continue;
    }
    if (!isLink) {
      current = next;
      continue;
    }
    if (++hops > MAX_LINK_HOPS) return { ok: false, loop: true };
    let target: string;
    try {
      target = readlinkSync(next);
    } catch {
      return { ok: false, loop: false };
    }
    if (path.isAbsolute(target)) current = path.parse(target).root;
    queue.unshift(...target.split(path.sep === '\\' ? /[\\/]/ : '/'));
  }
  return { ok: true, abs: current };
}

function refuse(reason: ConfinementReason, message: string): { ok: false; reason: ConfinementReason; message: string } {
  return { ok: false, reason, message };
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
