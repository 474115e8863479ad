import dagre from '@dagrejs/dagre';
import type { GraphNode } from '../model.js';

export interface Box {
  path: string;
  x: number;
  y: number;
  width: number;
  height: number;
  /** An unfolded loop or pipeline, drawn around its body. */
  open: boolean;
  /** A loop or pipeline with its body folded into it. */
  folded: boolean;
}

export interface Layout {
  boxes: Box[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

const NODE_HEIGHT = 38;
const NODE_SEP = 16;
const RANK_SEP = 44;
const MARGIN = 12;
/**
 * Above this many boxes dagre's crossing reduction takes seconds (a 500-stage DAG: over a second
 * even without it), so a bigger graph is laid out in layers here (layered below): no cluster
 * drawn around an unfolded body, straight edges, one ordering sweep.
 */
const DAGRE_UP_TO = 150;

/** The width a stage's box needs for its name and the line under it (graph.ts subLine). */
function widthOf(n: GraphNode, sub: string): number {
  const name = n.path.slice(n.path.lastIndexOf('.') + 1);
  return Math.max(96, name.length * 7.5 + 30, sub.length * 5.7 + 28);
}

/**
 * The stage graph laid out left to right by dagre. A loop or pipeline in `unfolded` is a cluster
 * holding its body; folded, it is one box and its body is not drawn. Edges join what is drawn:
 * a need of an unfolded stage goes to the body stages that need nothing in it (and from those
 * no sibling needs), so the flow reads through the cluster.
 */
export function layoutGraph(nodes: readonly GraphNode[], unfolded: ReadonlySet<string>, subLine: (n: GraphNode, body: number | undefined) => string): Layout {
  const children = new Map<string, GraphNode[]>();
  for (const n of nodes) if (n.parent !== null) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const isOpen = (p: string) => children.has(p) && unfolded.has(p);
  const visible = (n: GraphNode): boolean => n.parent === null || (isOpen(n.parent) && visible(byPath.get(n.parent)!));
  const entries = (p: string): string[] => (isOpen(p) ? children.get(p)!.filter((c) => c.needs.length === 0).flatMap((c) => entries(c.path)) : [p]);
  const exits = (p: string): string[] => {
    if (!isOpen(p)) return [p];
    const body = children.get(p)!;
    return body.filter((c) => !body.some((o) => o.needs.includes(c.path))).flatMap((c) => exits(c.path));
  };

  const shown = nodes.filter(visible);
  const edgeList: [string, string][] = [];
  for (const n of shown) {
    for (const m of n.needs) {
      if (!byPath.has(m)) continue;
      for (const s of exits(m)) for (const t of entries(n.path)) edgeList.push([s, t]);
    }
  }
  const box = (n: GraphNode) => ({ width: widthOf(n, subLine(n, children.get(n.path)?.length)), height: NODE_HEIGHT });
  if (shown.length > DAGRE_UP_TO) return layered(shown, edgeList, isOpen, (p) => children.has(p) && !isOpen(p), box);
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of shown) {
    g.setNode(n.path, isOpen(n.path) ? { width: 0, height: 0 } : box(n));
    if (n.parent !== null) g.setParent(n.path, n.parent);
  }
  for (const [s, t] of edgeList) g.setEdge(s, t);
  dagre.layout(g);
  const boxes: Box[] = shown.map((n) => {
    const l = g.node(n.path) as { x: number; y: number; width: number; height: number };
    return { path: n.path, x: l.x - l.width / 2, y: l.y - l.height / 2, width: l.width, height: l.height, open: isOpen(n.path), folded: children.has(n.path) && !isOpen(n.path) };
  });
  const edges = g.edges().map((e) => ({ from: e.v, to: e.w, points: (g.edge(e) as { points: { x: number; y: number }[] }).points }));
  const graph = g.graph() as { width?: number; height?: number };
  return { boxes, edges, width: graph.width ?? 0, height: graph.height ?? 0 };
}

/**
 * A plain layered layout for big graphs: each box in the column of its longest chain of needs,
 * ordered in its column by the mean row of what it needs (one sweep), edges drawn straight.
 */
function layered(shown: readonly GraphNode[], edges: readonly [string, string][], isOpen: (p: string) => boolean, folded: (p: string) => boolean, box: (n: GraphNode) => { width: number; height: number }): Layout {
  const leaves = shown.filter((n) => !isOpen(n.path));
  const into = new Map<string, string[]>();
  for (const [s, t] of edges) into.set(t, [...(into.get(t) ?? []), s]);
  const rank = new Map<string, number>();
  const rankOf = (p: string, seen = new Set<string>()): number => {
    const known = rank.get(p);
    if (known !== undefined) return known;
    if (seen.has(p)) return 0;
    seen.add(p);
    const r = Math.max(-1, ...(into.get(p) ?? []).map((s) => rankOf(s, seen))) + 1;
    rank.set(p, r);
    return r;
  };
  const columns: GraphNode[][] = [];
  for (const n of leaves) (columns[rankOf(n.path)] ??= []).push(n);
  const row = new Map<string, number>();
  // Ranks are contiguous (a box's rank is one more than the largest of its needs'): no column is missing.
  for (const col of columns) {
    const mean = (n: GraphNode) => {
      const from = (into.get(n.path) ?? []).map((s) => row.get(s)).filter((r): r is number => r !== undefined);
      return from.length === 0 ? Infinity : from.reduce((a, b) => a + b, 0) / from.length;
    };
    const keyed = col.map((n, i) => ({ n, k: mean(n), i })).sort((a, b) => a.k - b.k || a.i - b.i);
    keyed.forEach(({ n }, i) => row.set(n.path, i));
    col.splice(0, col.length, ...keyed.map((k) => k.n));
  }
  const boxes: Box[] = [];
  const at = new Map<string, Box>();
  let x = MARGIN;
  let height = 0;
  // Ranks are contiguous (a box's rank is one more than the largest of its needs'): no column is missing.
  for (const col of columns) {
    const width = Math.max(...col.map((n) => box(n).width));
    col.forEach((n, i) => {
      const b: Box = { path: n.path, x, y: MARGIN + i * (NODE_HEIGHT + NODE_SEP), width, height: NODE_HEIGHT, open: false, folded: folded(n.path) };
      boxes.push(b);
      at.set(n.path, b);
      height = Math.max(height, b.y + NODE_HEIGHT + MARGIN);
    });
    x += width + RANK_SEP;
  }
  const lines = edges.flatMap(([s, t]) => {
    const a = at.get(s);
    const b = at.get(t);
    return a && b ? [{ from: s, to: t, points: [{ x: a.x + a.width, y: a.y + NODE_HEIGHT / 2 }, { x: b.x, y: b.y + NODE_HEIGHT / 2 }] }] : [];
  });
  return { boxes, edges: lines, width: x - RANK_SEP + MARGIN, height };
}
