import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import type { GraphNode } from '../model.js';
import { duration, span } from './format.js';
import { layoutGraph, type Box } from './graph-layout.js';
import { statusColor } from './status.js';

/** Up to this many stages, loops and pipelines start unfolded; beyond, folded. */
const UNFOLD_UP_TO = 80;

/** The run's stages as a DAG coloured by status; a loop or pipeline folds and unfolds with its ▸/▾. */
export function Graph({ run, nodes }: { run: string; nodes: GraphNode[] }) {
  const containers = useMemo(() => new Set(nodes.flatMap((n) => (n.parent === null ? [] : [n.parent]))), [nodes]);
  const [unfolded, setUnfolded] = useState<Set<string>>(() => (nodes.length <= UNFOLD_UP_TO ? new Set(containers) : new Set()));
  // The layout depends on the shape only: a change of status (live) redraws colours, not positions.
  const shape = nodes.map((n) => `${n.path}<${n.needs.join(',')}`).join(';');
  const layout = useMemo(() => layoutGraph(nodes, unfolded, subLine), [shape, unfolded]);
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const toggle = (p: string) => {
    const next = new Set(unfolded);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setUnfolded(next);
  };
  const open = (n: GraphNode) => {
    location.hash = `#/run/${encodeURIComponent(run)}/stage/${encodeURIComponent(n.path)}`;
  };
  const counts = new Map<string, number>();
  for (const n of nodes) if (n.parent !== null) counts.set(n.parent, (counts.get(n.parent) ?? 0) + 1);
  return html`<div class="graph-box">
    <svg class="graph" width=${layout.width} height=${layout.height} viewBox=${`0 0 ${layout.width} ${layout.height}`}>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#868e96" /></marker></defs>
      ${layout.boxes.filter((b) => b.open).map((b) => cluster(b, byPath.get(b.path)!, toggle, open))}
      ${layout.edges.map((e) => html`<polyline class="edge" points=${e.points.map((p) => `${p.x},${p.y}`).join(' ')} marker-end="url(#arrow)" />`)}
      ${layout.boxes.filter((b) => !b.open).map((b) => stageBox(b, byPath.get(b.path)!, counts.get(b.path), toggle, open))}
    </svg>
  </div>`;
}

function cluster(b: Box, n: GraphNode, toggle: (p: string) => void, open: (n: GraphNode) => void) {
  return html`<g class="cluster" data-path=${n.path} data-status=${n.status}>
    <rect x=${b.x} y=${b.y - 8} width=${b.width} height=${b.height + 8} rx="8" style=${{ stroke: statusColor(n.status) }} />
    <text class="toggle" x=${b.x + 8} y=${b.y + 6} onClick=${() => toggle(n.path)}>▾</text>
    <text class="cluster-label" x=${b.x + 22} y=${b.y + 6} onClick=${() => open(n)}>${n.path.slice(n.path.lastIndexOf('.') + 1)} · ${n.kind}${n.max_iterations ? ` (max ${n.max_iterations})` : ''} · ${n.status}</text>
  </g>`;
}

/** The small line under a stage's name: kind, cached, iteration, duration; a folded body's size. */
function subLine(n: GraphNode, body: number | undefined): string {
  const d = span(n.started_at, n.ended_at);
  return `${body !== undefined ? `▸ ${body} stages · ` : ''}${n.kind}${n.cached ? ' · cached' : ''}${n.iteration ? ` · #${n.iteration}` : ''}${d === null ? '' : ` · ${duration(d)}`}`;
}

function stageBox(b: Box, n: GraphNode, body: number | undefined, toggle: (p: string) => void, open: (n: GraphNode) => void) {
  const name = n.path.slice(n.path.lastIndexOf('.') + 1);
  const dark = n.status === 'pending' || n.status === 'skipped';
  return html`<g class=${`node status-${n.status}`} data-path=${n.path} data-status=${n.status} onClick=${() => open(n)}>
    <title>${n.path}: ${n.status}${n.reason ? ` (${n.reason})` : ''}${n.message ? `\n${n.message}` : ''}</title>
    <rect x=${b.x} y=${b.y} width=${b.width} height=${b.height} rx="6" style=${{ fill: statusColor(n.status) }} />
    <text x=${b.x + 10} y=${b.y + 16} class=${dark ? 'name dark' : 'name'}>${name}</text>
    <text x=${b.x + 10} y=${b.y + 30} class=${dark ? 'sub dark' : 'sub'}>${subLine(n, body)}</text>
    ${body !== undefined && html`<rect class="unfold" x=${b.x + b.width - 18} y=${b.y} width="18" height=${b.height} onClick=${(e: Event) => (e.stopPropagation(), toggle(n.path))}><title>unfold</title></rect>`}
  </g>`;
}
