import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { AnswerBody, Question } from '../model.js';
import { postJson } from './api.js';

/** The questions a live apply waits on, answered here as `factory approve` answers them. */
export function Gates({ run, waiting }: { run: string; waiting: Question[] }) {
  if (waiting.length === 0) return null;
  return html`<div class="gates">${waiting.map((q) => html`<${Gate} key=${`${q.stage}@${q.iteration ?? ''}`} run=${run} q=${q} />`)}</div>`;
}

function Gate({ run, q }: { run: string; q: Question }) {
  const [comment, setComment] = useState('');
  const [said, setSaid] = useState<{ ok: boolean; message: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const send = async (answer: Omit<AnswerBody, 'stage'>) => {
    setBusy(true);
    try {
      const { body } = await postJson<{ ok: boolean; message: string }>(`/api/runs/${encodeURIComponent(run)}/answer`, { stage: q.stage, ...answer, ...(comment ? { comment } : {}) });
      setSaid(body);
    } catch (err) {
      setSaid({ ok: false, message: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };
  const title = q.kind === 'budget' ? `Budget question — ${q.stage}` : `Waiting for approval — ${q.stage}`;
  return html`<div class="gate" data-stage=${q.stage}>
    <h3>${title}${q.iteration === undefined ? '' : ` (iteration ${q.iteration})`}</h3>
    <pre class="message">${q.message}</pre>
    <input class="comment" placeholder="comment (optional)" value=${comment} onInput=${(e: Event) => setComment((e.target as HTMLInputElement).value)} />
    <div class="buttons">
      ${q.options
        ? q.options.map((o) => html`<button disabled=${busy} title=${o.description ?? ''} onClick=${() => void send({ choice: o.id })}>${o.label}</button>`)
        : html`<button class="approve" disabled=${busy} onClick=${() => void send({})}>Approve</button>
            <button class="reject" disabled=${busy} onClick=${() => void send({ reject: true })}>Reject</button>`}
    </div>
    <p class="muted">or from a shell: <code>${q.command}</code></p>
    ${said && html`<p class=${said.ok ? 'ok' : 'error refusal'}>${said.ok ? '' : 'refused: '}${said.message}</p>`}
  </div>`;
}
