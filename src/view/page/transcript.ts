import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ToolUse, TranscriptItem } from '../model.js';
import { lineCount, tokens, usd } from './format.js';

/** The agent's turns: what it said, each tool call with its input, the result folded; refusals marked. */
export function Transcript({ items }: { items: TranscriptItem[] }) {
  let turn = 0;
  return html`<ol class="transcript">
    ${items.map((item) => {
      if (item.type === 'note') return html`<li class="note">${item.text}</li>`;
      turn++;
      const u = item.usage;
      return html`<li class=${`turn${item.refusal ? ' refusal' : ''}`} data-turn=${turn}>
        <div class="turn-head"><span>turn ${turn}</span>${item.refusal && html`<span class="refused">refused</span>`}<span class="muted">${item.stop_reason ?? ''}${u ? ` · ${tokens(u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens)} tokens` : ''}${item.cost_usd !== null ? ` · ${usd(item.cost_usd)}` : ''}</span></div>
        ${item.text.map((t) => html`<div class="said">${t}</div>`)}
        ${item.tools.map((t) => html`<${Tool} t=${t} />`)}
      </li>`;
    })}
  </ol>`;
}

function Tool({ t }: { t: ToolUse }) {
  const input = typeof t.input === 'object' && t.input !== null ? (t.input as Record<string, unknown>) : {};
  const error = t.result?.is_error === true;
  return html`<div class=${`tool${error ? ' tool-error' : ''}`}>
    <div class="tool-call"><span class="tool-name">${t.name}</span> ${Object.entries(input).map(([k, v]) => html`<span class="arg"><b>${k}</b> ${argText(v)}</span>`)}</div>
    ${t.result
      ? html`<${Folded} summary=${`${error ? 'refused / error' : 'result'} (${lineCount(t.result.content)})`} text=${t.result.content} />`
      : html`<div class="muted">no result recorded</div>`}
  </div>`;
}

/** A tool result, folded; its text is put in the page only when unfolded (a long transcript stays light). */
function Folded({ summary, text }: { summary: string; text: string }) {
  const [open, setOpen] = useState(false);
  return html`<details class="tool-result" onToggle=${(e: Event) => setOpen((e.currentTarget as HTMLDetailsElement).open)}><summary>${summary}</summary>${open && html`<pre>${text}</pre>`}</details>`;
}

function argText(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} characters)` : s;
}
