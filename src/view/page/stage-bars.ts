import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { GraphNode } from '../model.js';
import { tokens, usd } from './format.js';

const FIRST = 30;

/** Tokens and cost per stage as bars, the costliest first (loops and pipelines left out: their body is counted). */
export function StageBars({ run, nodes }: { run: string; nodes: GraphNode[] }) {
  const [all, setAll] = useState(false);
  const parents = new Set(nodes.flatMap((n) => (n.parent === null ? [] : [n.parent])));
  const spent = nodes.filter((n) => !parents.has(n.path) && (n.tokens > 0 || n.cost_usd > 0)).sort((a, b) => b.cost_usd - a.cost_usd || b.tokens - a.tokens);
  if (spent.length === 0) return html`<p class="muted">No stage has called a model.</p>`;
  const maxCost = Math.max(...spent.map((n) => n.cost_usd), 1e-9);
  const maxTokens = Math.max(...spent.map((n) => n.tokens), 1);
  const shown = all ? spent : spent.slice(0, FIRST);
  return html`<table class="bars">
    <thead><tr><th>stage</th><th>cost</th><th>tokens</th></tr></thead>
    <tbody>
      ${shown.map(
        (n) => html`<tr>
          <td><a href=${`#/run/${encodeURIComponent(run)}/stage/${encodeURIComponent(n.path)}`}>${n.path}</a></td>
          <td><span class="hbar cost" style=${{ width: `${(n.cost_usd / maxCost) * 120}px` }}></span> ${usd(n.cost_usd)}</td>
          <td><span class="hbar tok" style=${{ width: `${(n.tokens / maxTokens) * 120}px` }}></span> ${tokens(n.tokens)}</td>
        </tr>`,
      )}
    </tbody>
    ${spent.length > FIRST && html`<tfoot><tr><td colspan="3"><button class="link" onClick=${() => setAll(!all)}>${all ? 'show fewer' : `show all ${spent.length}`}</button></td></tr></tfoot>`}
  </table>`;
}
