import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../records/atomic.js';
import { fileNameOf, titleKey } from './file-name.js';
import { formatLearning, parseLearning } from './front-matter.js';
import type { Learning, LearningWarning } from './learning.js';

/**
 * The learnings folder: every `*.md` file in it (not below), read and parsed; a file that cannot
 * be parsed is a warning naming it, and the others are used.
 */

const MAX_LEARNING_BYTES = 1024 * 1024;

export interface Store {
  learnings: Learning[];
  warnings: LearningWarning[];
}

export function readStore(workspace: string, dir: string): Store {
  const abs = path.join(workspace, dir);
  let names: string[];
  try {
    names = readdirSync(abs).filter((n) => n.endsWith('.md')).sort();
  } catch {
    return { learnings: [], warnings: [] };
  }
  const out: Store = { learnings: [], warnings: [] };
  for (const name of names) {
    const at = dir === '' ? name : `${dir}/${name}`;
    let text: string;
    try {
      const file = path.join(abs, name);
      if (statSync(file).size > MAX_LEARNING_BYTES) {
        out.warnings.push({ file: at, line: 1, column: 1, message: `learning ${at} is larger than 1 MiB; it is left out`, hint: 'a learning is a short note: shorten it or move the details into the files it names' });
        continue;
      }
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseLearning(text, at);
    if (parsed.ok) out.learnings.push(parsed.learning);
    else out.warnings.push(parsed.warning);
  }
  return out;
}

/** The stored learning with this title (case and blanks aside). */
export function findByTitle(store: Store, title: string): Learning | undefined {
  const key = titleKey(title);
  return store.learnings.find((l) => titleKey(l.title) === key);
}

export type Placed = { ok: true; at: string; previous?: Learning } | { ok: false; message: string };

/**
 * Where a learning with this title goes: the file of the stored one with the same title (an
 * update), else a new name from the title — with `-2`, `-3`… when another title already took
 * it (or another learning of the same answer did: `taken`).
 */
export function placeLearning(store: Store, dir: string, title: string, taken: ReadonlySet<string>): Placed {
  const previous = findByTitle(store, title);
  if (previous) return { ok: true, at: previous.at, previous };
  const named = fileNameOf(title);
  if (!named.ok) return named;
  const used = new Set([...store.learnings.map((l) => l.at), ...store.warnings.map((w) => w.file), ...taken]);
  const stem = named.name.slice(0, -'.md'.length);
  for (let n = 1; ; n++) {
    const at = `${dir === '' ? '' : `${dir}/`}${n === 1 ? stem : `${stem}-${n}`}.md`;
    if (!used.has(at)) return { ok: true, at };
  }
}

/** Writes each learning's file (atomically, one by one); the first failure is returned. */
export function writeLearnings(workspace: string, learnings: readonly Learning[]): { ok: true } | { ok: false; path: string; error: string } {
  for (const l of learnings) {
    const abs = path.join(workspace, l.at);
    try {
      mkdirSync(path.dirname(abs), { recursive: true });
    } catch {
      // reported by the write below
    }
    const { at: _at, ...content } = l;
    const written = writeFileAtomic(abs, formatLearning(content));
    if (!written.ok) return { ok: false, path: l.at, error: written.error };
  }
  return { ok: true };
}

export function removeLearning(workspace: string, l: Pick<Learning, 'at'>): void {
  rmSync(path.join(workspace, l.at), { force: true });
}
