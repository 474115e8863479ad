import { readdirSync } from 'node:fs';
import { RunFollower } from '../records/read.js';
import { runsDir } from '../records/paths.js';
import type { RunRecord, StageFile } from '../records/types.js';

/** A stage as `run_started` announced it: the shape of the graph, before any stage ran. */
export interface Announced {
  path: string;
  kind: string;
  needs: string[];
  max_iterations?: number;
}

export type FollowedRun =
  | { ok: true; id: string; dir: string; record: RunRecord; stages: StageFile[]; announced: Announced[] }
  | { ok: false; id: string; error: string; unreadable: boolean };

/**
 * Every run of a workspace, each followed by offset (records/read.ts RunFollower): a read costs
 * what the journals gained since the last one, so the page can ask again at every change of a
 * live run without the server reading the run from the start.
 */
export class FollowedRuns {
  readonly #followers = new Map<string, { follower: RunFollower; announced: Announced[] }>();

  constructor(readonly workspace: string) {}

  ids(): string[] {
    try {
      return readdirSync(runsDir(this.workspace), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
  }

  get(id: string): FollowedRun {
    let entry = this.#followers.get(id);
    if (!entry) {
      entry = { follower: new RunFollower(this.workspace, id), announced: [] };
      this.#followers.set(id, entry);
    }
    const polled = entry.follower.poll();
    if (!polled.ok) {
      // Read again from the start next time: a half-read journal is no base to continue from.
      this.#followers.delete(id);
      return { ok: false, id, error: polled.error, unreadable: polled.unreadable === true };
    }
    for (const e of polled.events) if (e.type === 'run_started' && Array.isArray(e.stages)) entry.announced = announcedOf(e.stages);
    return { ok: true, id, dir: polled.dir, record: polled.record, stages: polled.stages, announced: entry.announced };
  }
}

function announcedOf(stages: unknown[]): Announced[] {
  const out: Announced[] = [];
  for (const s of stages) {
    if (typeof s !== 'object' || s === null) continue;
    const { path, kind, needs, max_iterations } = s as Record<string, unknown>;
    if (typeof path !== 'string' || typeof kind !== 'string') continue;
    out.push({
      path,
      kind,
      needs: Array.isArray(needs) ? needs.filter((n): n is string => typeof n === 'string') : [],
      ...(typeof max_iterations === 'number' ? { max_iterations } : {}),
    });
  }
  return out;
}
