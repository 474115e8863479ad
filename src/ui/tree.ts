import type { StageKind } from '../config/pipeline.js';
import type { EngineEvent } from '../records/events.js';

type RunStarted = Extract<EngineEvent, { type: 'run_started' }>;

/** What a renderer knows of one stage from `run_started` (or from its first event). */
export interface StageInfo {
  /** Dotted path from the top: `build.generate`. */
  path: string;
  /** The last segment of the path. */
  id: string;
  /** Path of the enclosing stage, undefined at the top level. */
  parent: string | undefined;
  depth: number;
  kind: StageKind | undefined;
  needs: string[];
  /** A loop's `max_iterations`, when the engine says it. */
  maxIterations: number | undefined;
}

/**
 * The stage tree of a run, in the engine's order: paths with dots nest under their parent
 * (`build.generate` under `build`). Paths the engine did not announce are added on first sight,
 * with their missing ancestors, so a renderer never loses an event.
 */
export class StageTree {
  private readonly byPath = new Map<string, StageInfo>();
  private readonly ordered: StageInfo[] = [];

  constructor(stages: RunStarted['stages'] = []) {
    for (const stage of stages) {
      const info = this.ensure(stage.path);
      info.kind = stage.kind;
      info.needs = [...stage.needs];
      info.maxIterations = stage.max_iterations;
    }
  }

  /** Every stage, parents before their children, siblings in the engine's order. */
  get stages(): readonly StageInfo[] {
    const out: StageInfo[] = [];
    const visit = (parent: string | undefined): void => {
      for (const info of this.ordered) {
        if (info.parent !== parent) continue;
        out.push(info);
        visit(info.path);
      }
    };
    visit(undefined);
    return out;
  }

  get(path: string): StageInfo | undefined {
    return this.byPath.get(path);
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  ensure(path: string): StageInfo {
    const known = this.byPath.get(path);
    if (known) return known;
    const cut = path.lastIndexOf('.');
    // A fan-out instance (`attempt[2]`) sits under its stage (`attempt`), one level down.
    const bracket = path.endsWith(']') ? path.lastIndexOf('[') : -1;
    const parent = bracket > cut ? path.slice(0, bracket) : cut < 0 ? undefined : path.slice(0, cut);
    if (parent !== undefined) this.ensure(parent);
    const info: StageInfo = {
      path,
      id: cut < 0 ? path : path.slice(cut + 1),
      parent,
      depth: parent === undefined ? 0 : this.ensure(parent).depth + 1,
      // An instance is of its stage's kind (a loop's instances count their own iterations).
      kind: bracket > cut && parent !== undefined ? this.byPath.get(parent)?.kind : undefined,
      needs: [],
      maxIterations: undefined,
    };
    this.byPath.set(path, info);
    this.ordered.push(info);
    return info;
  }

  children(path: string | undefined): StageInfo[] {
    return this.ordered.filter((info) => info.parent === path);
  }

  /** Ancestors, nearest first. */
  ancestors(path: string): StageInfo[] {
    const out: StageInfo[] = [];
    let parent = this.byPath.get(path)?.parent ?? parentPath(path);
    while (parent !== undefined) {
      const info = this.ensure(parent);
      out.push(info);
      parent = info.parent;
    }
    return out;
  }

  /**
   * The loop an event's `iteration` counts: the nearest enclosing stage of kind `loop`, or the
   * direct parent when kinds are unknown.
   */
  loopOf(path: string): StageInfo | undefined {
    const ancestors = this.ancestors(path);
    return ancestors.find((a) => a.kind === 'loop') ?? ancestors[0];
  }
}

export function parentPath(path: string): string | undefined {
  const cut = path.lastIndexOf('.');
  return cut < 0 ? undefined : path.slice(0, cut);
}
