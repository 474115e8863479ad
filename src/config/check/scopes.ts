import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile, type PathSegment } from '../load/load.js';
import { LazySet } from '../lazy-set.js';
import { didYouMean } from '../suggest.js';
import { isRecord } from '../../base/is-record.js';

/**
 * The shape of the stage graph, read defensively from the raw config: one entry per scope with
 * its stages' ids, needs, and topological order. Problems (unknown needs, cycles) become
 * diagnostics; the graph is still returned so later checks can go on.
 */
export interface RawStage {
  id: string;
  /** YAML path of the stage's definition, e.g. ['stages', 'build', 'stages', 'generate']. */
  yamlPath: PathSegment[];
  /** Dotted stage path, e.g. `build.generate`. */
  path: string;
  def: Record<string, unknown>;
  /** Needs that exist in the scope (unknown ones are reported and dropped). */
  needs: string[];
  /** Transitive needs, computed when first asked for. */
  upstream: ReadonlySet<string>;
  body?: RawScope;
}

export interface RawScope {
  path: string;
  yamlPath: PathSegment[];
  /** Topological order; ties keep the order of the file. */
  order: RawStage[];
  byId: Map<string, RawStage>;
}


/** `prefix` is the dotted path of the pipeline stage that calls this file as a template ('' at the top). */
export function buildScopes(loaded: LoadedFile, prefix = ''): { root: RawScope; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const config = isRecord(loaded.value) ? loaded.value : {};
  const root = buildScope(loaded, config.stages, ['stages'], prefix, diagnostics);
  return { root, diagnostics };
}

function buildScope(loaded: LoadedFile, stagesValue: unknown, yamlPath: PathSegment[], dotted: string, diagnostics: Diagnostic[]): RawScope {
  const byId = new Map<string, RawStage>();
  const entries = isRecord(stagesValue) ? Object.entries(stagesValue) : [];
  for (const [id, def] of entries) {
    const stagePath = [...yamlPath, id];
    const stage: RawStage = {
      id,
      yamlPath: stagePath,
      path: dotted ? `${dotted}.${id}` : id,
      def: isRecord(def) ? def : {},
      needs: [],
      upstream: new LazySet(() => transitiveNeeds(stage, byId)),
    };
    byId.set(id, stage);
  }
  for (const stage of byId.values()) {
    const needs = stage.def.needs;
    if (!Array.isArray(needs)) continue;
    needs.forEach((need, index) => {
      if (typeof need !== 'string') return; // the schema reports the type
      const at = () => locate(loaded, [...stage.yamlPath, 'needs', index]);
      if (need === stage.id) {
        diagnostics.push(diagnostic(loaded.file, at(), 'needs-self', `stage "${stage.path}" needs itself`, 'remove it from its own `needs`'));
      } else if (!byId.has(need)) {
        const others = [...byId.keys()].filter((k) => k !== stage.id);
        diagnostics.push(diagnostic(loaded.file, at(), 'needs-unknown',
          `stage "${need}" in needs of "${stage.id}" does not exist${didYouMean(need, others)}`,
          others.length ? `stages in this scope: ${others.join(', ')}` : undefined));
      } else if (!stage.needs.includes(need)) {
        stage.needs.push(need);
      }
    });
  }
  const order = topologicalOrder(loaded, byId, diagnostics);
  for (const stage of byId.values()) {
    if (stage.def.kind === 'loop' && isRecord(stage.def.stages)) {
      stage.body = buildScope(loaded, stage.def.stages, [...stage.yamlPath, 'stages'], stage.path, diagnostics);
    }
  }
  return { path: dotted, yamlPath, order, byId };
}

/** Every stage reachable through needs; iterative, so cycles and long chains are safe. */
function transitiveNeeds(stage: RawStage, byId: ReadonlyMap<string, RawStage>): Set<string> {
  const seen = new Set<string>();
  const stack = [...stage.needs];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    // Needs already seen are not pushed: popping them would be skipped anyway, so the order of
    // the set is the same, without a stack that grows with every path through a wide DAG.
    const needs = byId.get(id)?.needs;
    if (needs) for (const need of needs) if (!seen.has(need)) stack.push(need);
  }
  seen.delete(stage.id);
  return seen;
}

/**
 * Kahn's algorithm with ties broken by file order; stages left over sit on a cycle, which is
 * reported once, as the cycle itself (`a → b → c → a`).
 */
function topologicalOrder(loaded: LoadedFile, byId: Map<string, RawStage>, diagnostics: Diagnostic[]): RawStage[] {
  const all = [...byId.values()];
  // By position in the file: the ready stage that comes first in the file goes first.
  const position = new Map<string, number>();
  for (let i = 0; i < all.length; i++) position.set(all[i]!.id, i);
  const remaining = new Int32Array(all.length);
  const dependants: number[][] = all.map(() => []);
  const ready = new MinHeap();
  for (let i = 0; i < all.length; i++) {
    const needs = all[i]!.needs;
    remaining[i] = needs.length;
    for (const n of needs) dependants[position.get(n)!]!.push(i);
    if (needs.length === 0) ready.push(i);
  }
  const order: RawStage[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(all[i]!);
    for (const d of dependants[i]!) {
      remaining[d]! -= 1;
      if (remaining[d] === 0) ready.push(d);
    }
  }
  if (order.length < all.length) {
    const placed = new Set(order);
    const stuck = new Set(all.filter((s) => !placed.has(s)).map((s) => s.id));
    const cycle = findCycle(byId, stuck);
    const first = byId.get(cycle[0]!)!;
    const closing = cycle[1]!;
    const needIndex = Array.isArray(first.def.needs) ? first.def.needs.indexOf(closing) : -1;
    diagnostics.push(diagnostic(loaded.file, locate(loaded, needIndex >= 0 ? [...first.yamlPath, 'needs', needIndex] : first.yamlPath, needIndex >= 0 ? 'value' : 'key'),
      'needs-cycle', `stages depend on each other in a cycle: ${cycle.join(' → ')}`, 'remove one of these `needs` so the stages can run in an order'));
    // Keep going with the stuck stages appended, so later checks still see every stage.
    for (const s of all) if (stuck.has(s.id)) order.push(s);
  }
  return order;
}

/** One concrete cycle among the stuck stages, starting from the first of them in file order. */
function findCycle(byId: Map<string, RawStage>, stuck: Set<string>): string[] {
  const start = [...stuck][0]!;
  const path: string[] = [];
  const onPath = new Map<string, number>();
  let current = start;
  // Every stuck stage has a stuck need, so walking needs must revisit a stage.
  for (;;) {
    if (onPath.has(current)) {
      const cycle = path.slice(onPath.get(current));
      return [...cycle, current];
    }
    onPath.set(current, path.length);
    path.push(current);
    const next = byId.get(current)!.needs.find((n) => stuck.has(n));
    if (next === undefined) return [...path, start];
    current = next;
  }
}

/** A binary min-heap of numbers: Kahn's ready set, ordered by file position. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const items = this.items;
    let i = items.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && items[child + 1]! < items[child]!) child++;
        if (items[child]! >= last) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
