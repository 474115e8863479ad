import { html } from 'htm/preact';
import type { RunPayload } from '../model.js';
import { duration, span, tokens, usd, when } from './format.js';
import { Gates } from './gates.js';
import { Graph } from './graph.js';
import { Iterations } from './iterations.js';
import { useLive } from './live.js';
import { StageBars } from './stage-bars.js';
import { StatusBadge } from './status-badge.js';
import { Timeline } from './timeline.js';
import { useJson } from './use-json.js';

export function RunPage({ run }: { run: string }) {
  const tick = useLive(run);
  const { data, error } = useJson<RunPayload>(`/api/runs/${encodeURIComponent(run)}`, tick);
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ?? 'loading…'}</p>`;
  const usage = data.usage;
  return html`<section class="run" data-status=${data.status}>
    <h1>${data.name} <small class="muted">${data.id}</small></h1>
    <div class="facts">
      <${StatusBadge} status=${data.status} />
      <span>started ${when(data.started_at)}</span>
      <span>${data.ended_at === null ? 'running for' : 'took'} ${duration(span(data.started_at, data.ended_at))}</span>
      <span>${tokens(usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens + usage.output_tokens)} tokens</span>
      <span>${usd(data.cost_usd)}</span>
      ${data.exit_code !== null && html`<span>exit ${data.exit_code}</span>`}
    </div>
    ${error && html`<p class="error">${error}</p>`}
    <${Gates} run=${data.id} waiting=${data.waiting} />
    <h2>Stages</h2>
    <${Graph} run=${data.id} nodes=${data.nodes} />
    <h2>Timeline</h2>
    <${Timeline} run=${data.id} bars=${data.timeline} started=${data.started_at} ended=${data.ended_at} />
    <div class="two">
      <div><h2>Tokens and cost per stage</h2><${StageBars} run=${data.id} nodes=${data.nodes} /></div>
      ${data.iterations.length > 0 && html`<div><h2>Iterations</h2><${Iterations} run=${data.id} rows=${data.iterations} /></div>`}
    </div>
  </section>`;
}
