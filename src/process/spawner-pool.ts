import { availableParallelism } from 'node:os';
import type { SpawnRequest, Started } from './spawn.js';
import { helperScript, SpawnHelper } from './spawner.js';

/**
 * The spawn helpers of this factory process. The first is started as soon as `apply` knows it
 * will run (`warm()`), so it has loaded by the time the first command stage starts; a request
 * sent while it loads waits in its input pipe. A helper is busy for the length of a fork and
 * exec (~1 ms); when every helper is busy as a request comes, the request goes to the least
 * loaded one and another helper is started for the requests after it, up to one per core (at
 * most MAX_HELPERS) — so `concurrency: 1` keeps one helper, and parallel stages do not queue
 * behind one another's forks. Measured on bench/dag (concurrency 2, 2 cores): two helpers take
 * ~10% off the wall time of one.
 *
 * After MAX_DEATHS helpers have died unexpectedly, helpers are given up for this process and
 * every program starts in-process (`fallback`).
 */
export class HelperPool {
  private readonly helpers: SpawnHelper[] = [];
  private deaths = 0;

  constructor(
    private readonly script: string,
    private readonly fallback: (req: SpawnRequest) => Promise<Started>,
    private readonly max = Math.min(MAX_HELPERS, availableParallelism()),
  ) {}

  /** Whether helpers may still be used. */
  get usable(): boolean {
    return this.deaths < MAX_DEATHS;
  }

  /** The helpers alive now (for tests and diagnostics). */
  get alive(): readonly SpawnHelper[] {
    return this.helpers;
  }

  /** Starts the first helper, if none is there. */
  warm(): SpawnHelper | undefined {
    return this.helpers[0] ?? this.grow();
  }

  /** Starts a program through a helper, or in-process when there is none to use. */
  start(req: SpawnRequest): Promise<Started> {
    const helper = this.pick();
    return helper ? helper.start(req) : this.fallback(req);
  }

  private pick(): SpawnHelper | undefined {
    let best: SpawnHelper | undefined;
    for (const h of this.helpers) {
      if (!h.ready) continue;
      if (!h.busy) return h;
      if (!best || h.load < best.load) best = h;
    }
    if (best) {
      // Every loaded helper is busy: queue behind the least loaded (a fork takes ~1 ms), and
      // start one more for the requests to come (loading takes ~40 ms).
      if (this.helpers.length < this.max) this.grow();
      return best;
    }
    // None has loaded yet: wait for the first to load (sooner than importing execa here).
    return this.helpers[0] ?? this.grow();
  }

  private grow(): SpawnHelper | undefined {
    if (!this.usable) return undefined;
    let helper: SpawnHelper;
    try {
      helper = new SpawnHelper(this.script, this.fallback, (gone) => this.remove(gone));
    } catch {
      this.deaths++;
      return undefined;
    }
    this.helpers.push(helper);
    return helper;
  }

  private remove(gone: SpawnHelper): void {
    const i = this.helpers.indexOf(gone);
    if (i >= 0) this.helpers.splice(i, 1);
    this.deaths++;
  }
}

const MAX_HELPERS = 4;
const MAX_DEATHS = 2;

/** undefined: not made yet; null: helpers are not used in this process. */
let pool: HelperPool | null | undefined;

/** Starting a program in-process, for requests no helper takes: execa, loaded on first use. */
const startHere = async (req: SpawnRequest): Promise<Started> => (await import('./spawn.js')).spawnHere(req);

/** The process's helper pool, or undefined when helpers are off (FACTORY_SPAWN_HELPER=0) or unavailable. */
export function helperPool(): HelperPool | undefined {
  if (pool === undefined) {
    const script = process.env.FACTORY_SPAWN_HELPER === '0' ? undefined : helperScript();
    pool = script === undefined ? null : new HelperPool(script, startHere);
  }
  return pool?.usable ? pool : undefined;
}

/**
 * Starts the first helper now, so that it loads while `apply` reads the config (it takes ~40 ms
 * on its own core). This module is small and imports only Node built-ins, so the CLI can import
 * it up front, unlike spawn.ts (which is loaded with the engine).
 */
export function warmSpawnHelpers(): boolean {
  return helperPool()?.warm() !== undefined;
}
