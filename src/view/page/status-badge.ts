import { html } from 'htm/preact';
import { statusColor } from './status.js';

export function StatusBadge({ status, reason }: { status: string; reason?: string | null }) {
  return html`<span class=${`badge status-${status}`} style=${{ background: statusColor(status) }}>${status}${reason ? html` <em>(${reason})</em>` : null}</span>`;
}
