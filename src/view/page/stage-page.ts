import { html } from 'htm/preact';
import type { StagePayload } from '../model.js';
import { DiffView } from './diff-view.js';
import { duration, lineCount, span, tokens, usd, when } from './format.js';
import { useLive } from './live.js';
import { StatusBadge } from './status-badge.js';
import { Transcript } from './transcript.js';
import { useJson } from './use-json.js';

export function StagePage({ run, stage, iteration }: { run: string; stage: string; iteration?: string }) {
  const tick = useLive(run);
  const q = iteration === undefined ? '' : `?iteration=${encodeURIComponent(iteration)}`;
  const { data, error } = useJson<StagePayload>(`/api/runs/${encodeURIComponent(run)}/stages/${encodeURIComponent(stage)}${q}`, tick);
  if (!data) return html`<p class=${error ? 'error' : 'muted'}>${error ?? 'loading…'}</p>`;
  const u = data.usage;
  const base = `#/run/${encodeURIComponent(run)}/stage/${encodeURIComponent(stage)}`;
  const { findings, scenarios } = data;
  return html`<section class="stage" data-status=${data.status}>
    <h1>${data.path} <small class="muted">${data.kind}${data.iteration === undefined ? '' : ` · iteration ${data.iteration}`}</small></h1>
    ${data.iterations.length > 1 && html`<nav class="iters">iterations: ${data.iterations.map((i) => html`<a class=${i === data.iteration ? 'current' : ''} href=${`${base}/${i}`}>${i}</a> `)}</nav>`}
    <div class="facts">
      <${StatusBadge} status=${data.status} reason=${data.reason} />
      ${data.cached && html`<span>cached</span>`}
      <span>started ${when(data.started_at)}</span>
      <span>took ${duration(span(data.started_at, data.ended_at))}</span>
      <span>attempts ${data.attempts}</span>
      <span title=${`input ${u.input_tokens}, output ${u.output_tokens}, cache write ${u.cache_creation_input_tokens}, cache read ${u.cache_read_input_tokens}`}>${tokens(u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens)} tokens (in ${tokens(u.input_tokens)}, out ${tokens(u.output_tokens)}, cache ${tokens(u.cache_read_input_tokens + u.cache_creation_input_tokens)})</span>
      <span>${usd(data.cost_usd)}</span>
    </div>
    ${data.message && html`<pre class=${`message ${data.status === 'succeeded' ? '' : 'bad'}`}>${data.message}</pre>`}
    ${error && html`<p class="error">${error}</p>`}
    ${data.prompt !== null && html`<details class="prompt"><summary>Prompt (${lineCount(data.prompt)})</summary><pre>${data.prompt}</pre></details>`}
    ${data.transcript.length > 0 && html`<h2>Transcript</h2><${Transcript} items=${data.transcript} />`}
    ${data.diff && html`<h2>Diff <small class="muted">${data.diff.source === 'patch' ? 'from the run’s patch' : 'from the agent’s file tools'}</small></h2><${DiffView} files=${data.diff.files} />`}
    ${findings.length > 0 &&
    html`<h2>Review findings</h2><table class="findings"><tbody>${findings.map(
      (f) => html`<tr class=${`sev-${f.severity}`}><td><span class="sev">${f.severity}</span></td><td><code>${f.file ?? ''}${f.line ? `:${f.line}` : ''}</code></td><td>${f.message}</td></tr>`,
    )}</tbody></table>`}
    ${scenarios.length > 0 &&
    html`<h2>Scenarios</h2><ul class="scenarios">${scenarios.map(
      (s) => html`<li class=${s.passed ? 'passed' : 'failed'}><strong>${s.passed ? '✓' : '✗'} ${s.name}</strong>${s.failures.length > 0 && html`<ul>${s.failures.map((f) => html`<li>${f}</li>`)}</ul>`}</li>`,
    )}</ul>`}
    ${data.stdout !== null && html`<h2>stdout</h2><pre class="log">${data.stdout}</pre>`}
    ${data.stderr !== null && html`<h2>stderr</h2><pre class="log err">${data.stderr}</pre>`}
    <details class="outputs"><summary>Outputs</summary><pre>${JSON.stringify(data.outputs, null, 2)}</pre></details>
  </section>`;
}
