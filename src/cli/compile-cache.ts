import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';

/**
 * A V8 code cache for the bundle's single-file commands (dist/bundle/cmd-*.cjs), which Node 20
 * lacks: `module.enableCompileCache` came in Node 22.1. Compiling the bundle and the functions a
 * command runs was a third of a cold `factory validate`; with the cache V8 starts from the
 * bytecode of the previous run instead.
 *
 * The cache is an optimisation only: any failure to read or write it is ignored, and V8 itself
 * refuses data that does not fit the source, the V8 version or the flags (then it is rewritten).
 */
export interface CachedModule {
  exports: unknown;
  /** Whether V8 started from the cache. */
  fromCache: boolean;
  /**
   * Writes the cache when there was none, V8 refused it, or it came from a run that did not
   * succeed and this one did. Call it after the module did its work: the functions it ran so far
   * are compiled and go into the cache with it. `succeeded`: whether the run went the whole way
   * (a command that exits early, on a bad file say, compiles only part of what a good run needs,
   * and its cache, kept as partial, is replaced by the next good run's).
   */
  save(succeeded: boolean): void;
}

/**
 * Where the cache lives: NODE_COMPILE_CACHE (Node 22's variable) or the user's cache folder
 * ($XDG_CACHE_HOME, else ~/.cache), under factory/; none with NODE_DISABLE_COMPILE_CACHE set,
 * as in Node 22. One folder per Node version and architecture, whose caches never fit another.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  let base = env.NODE_COMPILE_CACHE || env.XDG_CACHE_HOME;
  if (!base) {
    try {
      base = path.join(homedir(), '.cache');
    } catch {
      return undefined;
    }
  }
  return path.join(base, 'factory', `v8-${process.version}-${process.arch}`);
}

/** Which file a cache is for: its name, and a hash of its content (the bundle records one per file). */
export interface CacheId {
  name: string;
  hash: string;
}

/**
 * The function Node wraps a CommonJS module in. The build writes the bundle's files inside it
 * already: V8 then compiles the file's text as read, where wrapping it here made a second copy of
 * 900 KB (5 ms of a 50 ms start). Such a file is ASCII (the build refuses any other), so it is
 * read as latin1, which skips UTF-8 decoding.
 */
export const COMMONJS_WRAPPER = { head: '(function (exports, require, module, __filename, __dirname) {', tail: '\n})' } as const;

/**
 * Loads a CommonJS file as `require` would, through the code cache in `dir`. The cache's name
 * adds the file's size and modification time to `id`, so a file changed after the build never
 * meets the cache of its old text.
 */
export function loadCommonJS(file: string, id: CacheId, dir: string | undefined): CachedModule {
  const bytes = readFileSync(file);
  const wrapped = bytes.subarray(0, COMMONJS_WRAPPER.head.length).toString('latin1') === COMMONJS_WRAPPER.head;
  const source = wrapped ? bytes.toString('latin1') : `${COMMONJS_WRAPPER.head}${bytes.toString('utf8')}${COMMONJS_WRAPPER.tail}`;
  let cacheBase: string | undefined;
  let cachedData: Buffer | undefined;
  let partial = false;
  if (dir) {
    try {
      const { size, mtimeMs } = statSync(file);
      cacheBase = path.join(dir, `${cachePrefix(file, id.name)}${id.hash}-${size}-${Math.trunc(mtimeMs)}`);
      cachedData = readIfThere(`${cacheBase}.v8`);
      if (!cachedData) {
        cachedData = readIfThere(`${cacheBase}${PARTIAL}.v8`);
        partial = cachedData !== undefined;
      }
    } catch {
      // No way to read it: this run writes it.
    }
  }
  // The wrapper is on the same line as the file's first line, as Node puts it.
  const script = new vm.Script(source, {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  return {
    exports: module.exports,
    fromCache: !stale,
    save: (succeeded) => {
      if (!dir || !cacheBase || !(stale || (partial && succeeded))) return;
      writeCache(dir, `${cacheBase}${succeeded ? '' : PARTIAL}.v8`, cachePrefix(file, id.name), script.createCachedData());
    },
  };
}

/** Marks the cache of a run that did not succeed (see `save`). */
const PARTIAL = '-partial';

function readIfThere(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The start of the names of one installed file's caches: its name and where it is installed. Two
 * installs of factory on one machine (projects, versions, checkouts) share the cache folder; each
 * drops only its own older caches, not the other's current one.
 */
function cachePrefix(file: string, name: string): string {
  // FNV-1a of the folder: short, stable, and no crypto module to load at each start.
  let h = 0x811c9dc5;
  for (const c of path.dirname(file)) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return `${name}-${h.toString(16).padStart(8, '0')}-`;
}

/**
 * A cache of another install not rewritten for this long is dropped when a cache is written: an
 * install that was deleted (a CI clone, an old checkout) never removes its own.
 */
const FORGOTTEN_MS = 30 * 24 * 3600 * 1000;

/**
 * Writes atomically (processes run side by side), drops the older caches of the same install and
 * the forgotten ones of others.
 */
function writeCache(dir: string, cacheFile: string, prefix: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true });
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, data);
    renameSync(temp, cacheFile);
    const now = Date.now();
    for (const other of readdirSync(dir)) {
      const file = path.join(dir, other);
      if (!other.endsWith('.v8') || file === cacheFile) continue;
      if (other.startsWith(prefix) || now - statSync(file).mtimeMs > FORGOTTEN_MS) unlinkSync(file);
    }
  } catch {
    // A cache that cannot be written only costs the next start its compile time.
  }
}
