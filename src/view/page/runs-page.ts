import { html } from 'htm/preact';
import type { RunsPayload } from '../model.js';
import { CostChart } from './cost-chart.js';
import { duration, tokens, usd, when } from './format.js';
import { useLive } from './live.js';
import { StatusBadge } from './status-badge.js';
import { useJson } from './use-json.js';

export function RunsPage() {
  const tick = useLive(undefined);
  const { data, error } = useJson<RunsPayload>('/api/runs', tick);
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ?? 'loading…'}</p>`;
  const runs = [...data.runs].reverse();
  return html`<section>
    <h1>Runs <small class="muted">${data.workspace}</small></h1>
    ${error && html`<p class="error">${error}</p>`}
    ${data.runs.length === 0 ? html`<p class="muted">No runs yet: <code>factory apply</code> records each run in .factory/runs, and this page follows it.</p>` : html`<${CostChart} runs=${data.runs} />`}
    <table class="runs">
      <thead><tr><th>run</th><th>pipeline</th><th>status</th><th>started</th><th>duration</th><th class="num">tokens</th><th class="num">cost</th><th>stages</th></tr></thead>
      <tbody>
        ${runs.map(
          (r) => html`<tr data-run=${r.id}>
            <td><a href=${`#/run/${encodeURIComponent(r.id)}`}>${r.id}</a></td>
            <td>${r.name}</td>
            <td><${StatusBadge} status=${r.status} /></td>
            <td>${when(r.started_at)}</td>
            <td>${duration(r.duration_ms)}</td>
            <td class="num">${tokens(r.tokens)}</td>
            <td class="num">${usd(r.cost_usd)}</td>
            <td class="muted">${r.stages}</td>
          </tr>`,
        )}
        ${data.unreadable.map((u) => html`<tr class="unreadable"><td>${u.id}</td><td colspan="7" class="error">unreadable: ${u.error}</td></tr>`)}
      </tbody>
    </table>
  </section>`;
}
