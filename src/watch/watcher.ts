import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { FSWatcher } from 'chokidar';
import { hashText } from '../engine/cache/fingerprint.js';

/**
 * Watches what a pipeline reads (docs/cache-and-watch.md): exact files (factory.yaml, its templates) and
 * globs (context, inputs, scenarios, watch.paths), minus `watch.ignore` and the folders the
 * engine never watches. Bursts of events are coalesced by a debounce; files the run itself
 * wrote are suppressed by content: an event whose file now holds exactly what the run left
 * there is the run's own write, whatever glob it matches.
 */
export interface WatchSpec {
  workspace: string;
  /** Files watched by name (absolute or workspace-relative). */
  files: readonly string[];
  /** Globs relative to the workspace. */
  globs: readonly string[];
  ignore: readonly string[];
  debounceMs: number;
}

export interface WatchMemory {
  own: Map<string, string | null>;
  delivered: Map<string, string | null>;
}

/** A file's content hash; null when it is gone (or unreadable). */
export function contentHash(abs: string): string | null {
  try {
    return hashText(readFileSync(abs));
  } catch {
    return null;
  }
}

/** In `own`, a folder that holds files the run wrote (content hashes are hex, so it cannot be one). */
const FOLDER = 'folder';

/** Never watched, whatever the globs say. */
const NEVER = ['**/.git/**', '**/.factory/**', '**/node_modules/**'];

export class ChangeWatcher {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pending = new Set<string>();
  /** Content the run left in files it wrote (null: it deleted them), by relative path. */
  private readonly own: Map<string, string | null>;
  /** Content of each path when it was last reported: a late or repeated event for the same content is no change. */
  private readonly delivered: Map<string, string | null>;
  private readonly wanted: (rel: string) => boolean;
  private readonly ignored: (rel: string) => boolean;
  private readonly exact: Set<string>;

  /** `memory`: what a watcher this one replaces knew (the run's writes, what was reported). */
  constructor(private readonly spec: WatchSpec, private readonly onChange: (paths: string[]) => void, memory?: WatchMemory) {
    this.own = memory?.own ?? new Map<string, string | null>();
    this.delivered = memory?.delivered ?? new Map<string, string | null>();
    this.exact = new Set(spec.files.map((f) => this.rel(path.resolve(spec.workspace, f))));
    const globs = picomatch([...spec.globs].length ? [...spec.globs] : ['\0never'], { dot: true });
    this.wanted = (rel) => this.exact.has(rel) || globs(rel);
    this.ignored = picomatch([...NEVER, ...spec.ignore], { dot: true });
  }

  /** Resolves once the initial scan is done, so a change made after it is seen. */
  async start(): Promise<void> {
    const { watch } = await import('chokidar');
    const { shallow, deep } = watchRoots(this.spec);
    const options = {
      ignoreInitial: true,
      // Skip whole ignored folders early (node_modules can be huge); a folder is never "wanted".
      ignored: (p: string) => {
        const rel = this.rel(p);
        if (rel === '' || rel.startsWith('..') || this.exact.has(rel)) return false;
        return this.ignored(rel) || this.ignored(`${rel}/`);
      },
      // Editors that save by rename (write a temp file, rename it over) produce unlink+add.
      atomic: true,
    };
    // Folders holding named files are watched one level deep, the bases of globs all the way
    // down: watching a file by name misses it coming back after a rename or a delete.
    if (shallow.length) this.watchers.push(watch(shallow, { ...options, depth: 0 }));
    if (deep.length) this.watchers.push(watch(deep, options));
    await Promise.all(
      this.watchers.map((w) => {
        w.on('all', (_event, p) => this.seen(p));
        return new Promise<void>((resolve) => w.once('ready', () => resolve()));
      }),
    );
  }

  /**
   * The run wrote these files (relative paths): their current content is not a change, and
   * neither is a folder that holds them appearing (`mkdir -p gen` before writing gen/stamp).
   */
  suppress(files: readonly { path: string; hash: string | null }[]): void {
    for (const f of files) {
      this.own.set(f.path, f.hash);
      for (let dir = path.posix.dirname(f.path); dir !== '.' && dir !== '/'; dir = path.posix.dirname(dir)) if (!this.own.has(dir)) this.own.set(dir, FOLDER);
    }
  }

  /** The run's writes known so far and what was reported, for a watcher that replaces this one. */
  get memory(): WatchMemory {
    return { own: this.own, delivered: this.delivered };
  }

  /**
   * The paths that are still changes now: a change seen before the run reported its own writes
   * (a stage writing while it runs) is judged again once it has.
   */
  external(paths: readonly string[]): string[] {
    return paths.filter((rel) => !this.isOwnWrite(rel, path.resolve(this.spec.workspace, rel)));
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(this.watchers.map((w) => w.close()));
  }

  private rel(abs: string): string {
    return path.relative(this.spec.workspace, abs).split(path.sep).join('/');
  }

  private seen(abs: string): void {
    const rel = this.rel(abs);
    // Files named exactly (factory.yaml, templates, even inside node_modules) always count.
    if (!this.exact.has(rel) && (rel.startsWith('..') || this.ignored(rel) || !this.wanted(rel))) return;
    if (this.isOwnWrite(rel, abs)) return;
    if (this.delivered.has(rel) && this.delivered.get(rel) === contentHash(abs)) return;
    this.pending.add(rel);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const paths = [...this.pending].sort();
      this.pending.clear();
      this.timer = undefined;
      for (const p of paths) this.delivered.set(p, contentHash(path.resolve(this.spec.workspace, p)));
      this.onChange(paths);
    }, this.spec.debounceMs);
  }

  private isOwnWrite(rel: string, abs: string): boolean {
    if (!this.own.has(rel)) return false;
    // A folder the run wrote into is its own while it is there; gone, it is someone else's change.
    if (this.own.get(rel) === FOLDER ? isDirectory(abs) : contentHash(abs) === this.own.get(rel)) return true;
    // Someone else changed it after the run: from now on it is theirs.
    this.own.delete(rel);
    return false;
  }
}

/**
 * The folders to watch (chokidar 4+ takes no globs): the folder of each named file and of each
 * glob without wildcards, one level deep; the static base of each glob, recursively. A folder
 * that does not exist yet is replaced by its nearest existing parent (recursively: what appears
 * under it must be seen).
 */
export function watchRoots(spec: WatchSpec): { shallow: string[]; deep: string[] } {
  const shallow = new Set<string>();
  const deep = new Set<string>();
  const add = (dir: string, recursive: boolean) => {
    let at = dir;
    let exists = isDirectory(at);
    while (!exists && path.dirname(at) !== at) {
      at = path.dirname(at);
      exists = isDirectory(at);
      recursive = true;
    }
    (recursive ? deep : shallow).add(at);
  };
  for (const f of spec.files) add(path.dirname(path.resolve(spec.workspace, f)), false);
  for (const g of spec.globs) {
    const scan = picomatch.scan(g);
    if (!scan.isGlob) add(path.dirname(path.resolve(spec.workspace, g)), false);
    else add(path.resolve(spec.workspace, scan.base || '.'), true);
  }
  // A folder watched recursively needs no shallow watch of its own, nor of any folder under it.
  const under = (dir: string) => [...deep].some((d) => dir === d || dir.startsWith(`${d}${path.sep}`));
  return { shallow: [...shallow].filter((d) => !under(d)).sort(), deep: [...deep].filter((d) => ![...deep].some((o) => o !== d && d.startsWith(`${o}${path.sep}`))).sort() };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
