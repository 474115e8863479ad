import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { FSWatcher } from 'chokidar';
import { hashText } from '../engine/fingerprint.js';

/**
 * Watches what a pipeline reads (SPEC section 9): exact files (factory.yaml, its templates) and
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

/** Never watched, whatever the globs say. */
const NEVER = ['**/.git/**', '**/.factory/**', '**/node_modules/**'];

export class ChangeWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = new Set<string>();
  /** Content the run left in files it wrote (null: it deleted them), by relative path. */
  private readonly own = new Map<string, string | null>();
  private readonly wanted: (rel: string) => boolean;
  private readonly ignored: (rel: string) => boolean;
  private readonly exact: Set<string>;

  constructor(private readonly spec: WatchSpec, private readonly onChange: (paths: string[]) => void) {
    this.exact = new Set(spec.files.map((f) => this.rel(path.resolve(spec.workspace, f))));
    const globs = picomatch([...spec.globs].length ? [...spec.globs] : ['\0never'], { dot: true });
    this.wanted = (rel) => this.exact.has(rel) || globs(rel);
    this.ignored = picomatch([...NEVER, ...spec.ignore], { dot: true });
  }

  /** Resolves once the initial scan is done, so a change made after it is seen. */
  async start(): Promise<void> {
    const { watch } = await import('chokidar');
    const roots = watchRoots(this.spec);
    this.watcher = watch(roots, {
      ignoreInitial: true,
      // Skip whole ignored folders early (node_modules can be huge); a folder is never "wanted".
      ignored: (p: string) => {
        const rel = this.rel(p);
        if (rel === '' || rel.startsWith('..') || this.exact.has(rel)) return false;
        return this.ignored(rel) || this.ignored(`${rel}/`);
      },
      // Editors that save by rename (write a temp file, rename it over) produce unlink+add.
      atomic: true,
    });
    this.watcher.on('all', (_event, p) => this.seen(p));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  /** The run wrote these files (relative paths): their current content is not a change. */
  suppress(files: readonly { path: string; hash: string | null }[]): void {
    for (const f of files) this.own.set(f.path, f.hash);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
  }

  private rel(abs: string): string {
    return path.relative(this.spec.workspace, abs).split(path.sep).join('/');
  }

  private seen(abs: string): void {
    const rel = this.rel(abs);
    // Files named exactly (factory.yaml, templates, even inside node_modules) always count.
    if (!this.exact.has(rel) && (rel.startsWith('..') || this.ignored(rel) || !this.wanted(rel))) return;
    if (this.isOwnWrite(rel, abs)) return;
    this.pending.add(rel);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const paths = [...this.pending].sort();
      this.pending.clear();
      this.timer = undefined;
      this.onChange(paths);
    }, this.spec.debounceMs);
  }

  private isOwnWrite(rel: string, abs: string): boolean {
    if (!this.own.has(rel)) return false;
    let hash: string | null;
    try {
      hash = hashText(readFileSync(abs));
    } catch {
      hash = null;
    }
    if (hash === this.own.get(rel)) return true;
    // Someone else changed it after the run: from now on it is theirs.
    this.own.delete(rel);
    return false;
  }
}

/** The folders to watch: each glob's static base and each exact file (chokidar 4+ takes no globs). */
export function watchRoots(spec: WatchSpec): string[] {
  const roots = new Set<string>();
  for (const f of spec.files) roots.add(path.resolve(spec.workspace, f));
  for (const g of spec.globs) {
    const { base } = picomatch.scan(g);
    roots.add(path.resolve(spec.workspace, base || '.'));
  }
  return [...roots];
}
