import { html } from 'htm/preact';
import type { IterationRow } from '../model.js';
import { tokens, usd } from './format.js';
import { statusColor } from './status.js';

/** Each loop's iterations: the body stages' statuses, satisfaction (a bar), tokens and cost. */
export function Iterations({ run, rows }: { run: string; rows: IterationRow[] }) {
  return html`<table class="iterations">
    <thead><tr><th>loop</th><th>#</th><th>stages</th><th>satisfaction</th><th class="num">tokens</th><th class="num">cost</th></tr></thead>
    <tbody>
      ${rows.map(
        (r) => html`<tr>
          <td>${r.loop}</td>
          <td>${r.iteration}</td>
          <td>${r.stages.map(
            (s) => html`<a class="dot" title=${`${s.path}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`} href=${`#/run/${encodeURIComponent(run)}/stage/${encodeURIComponent(s.path)}/${r.iteration}`} style=${{ background: statusColor(s.status) }}></a>`,
          )}</td>
          <td>${r.satisfaction === null ? html`<span class="muted">–</span>` : html`<span class="sat"><span style=${{ width: `${Math.round(r.satisfaction * 100)}%` }}></span></span> ${r.satisfaction.toFixed(2)}`}</td>
          <td class="num">${tokens(r.tokens)}</td>
          <td class="num">${usd(r.cost_usd)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
