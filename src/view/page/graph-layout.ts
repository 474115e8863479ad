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

/** The width a stage's box needs for its name and the line under it (graph.ts subLine). */
function widthOf(n: GraphNode, sub: string): number {
  const name = n.path.slice(n.path.lastIndexOf('.') + 1);
  return Math.max(96, name.length * 7.5 + 30, sub.length * 6.1 + 30);
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

  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 44, marginx: 12, marginy: 12, ranker: nodes.length > 200 ? 'longest-path' : 'network-simplex' });
  g.setDefaultEdgeLabel(() => ({}));
  const shown = nodes.filter(visible);
  for (const n of shown) {
    g.setNode(n.path, isOpen(n.path) ? { width: 0, height: 0 } : { width: widthOf(n, subLine(n, children.get(n.path)?.length)), height: NODE_HEIGHT });
    if (n.parent !== null) g.setParent(n.path, n.parent);
  }
  for (const n of shown) {
    for (const m of n.needs) {
      if (!byPath.has(m)) continue;
      for (const s of exits(m)) for (const t of entries(n.path)) g.setEdge(s, t);
    }
  }
  dagre.layout(g);
  const boxes: Box[] = shown.map((n) => {
    const l = g.node(n.path) as { x: number; y: number; width: number; height: number };
    return { path: n.path, x: l.x - l.width / 2, y: l.y - l.height / 2, width: l.width, height: l.height, open: isOpen(n.path), folded: children.has(n.path) && !isOpen(n.path) };
  });
  const edges = g.edges().map((e) => ({ from: e.v, to: e.w, points: (g.edge(e) as { points: { x: number; y: number }[] }).points }));
  const graph = g.graph() as { width?: number; height?: number };
  return { boxes, edges, width: graph.width ?? 0, height: graph.height ?? 0 };
}
