import { html } from 'htm/preact';
import type { TimelineBar } from '../model.js';
import { duration } from './format.js';
import { statusColor } from './status.js';

const ROW = 18;
const LABEL = 190;
const WIDTH = 900;

/** When each stage ran (one row per stage and iteration), on the run's clock; a running stage grows to now. */
export function Timeline({ run, bars, started, ended }: { run: string; bars: TimelineBar[]; started: string; ended: string | null }) {
  if (bars.length === 0) return html`<p class="muted">No stage has started yet.</p>`;
  const t0 = Date.parse(started);
  const now = Date.now();
  const endOf = (b: TimelineBar) => (b.end === null ? now : Date.parse(b.end));
  const t1 = Math.max(ended === null ? now : Date.parse(ended), ...bars.map(endOf), t0 + 1);
  const scale = (WIDTH - LABEL - 10) / (t1 - t0);
  const rows = [...bars].sort((a, b) => a.start.localeCompare(b.start));
  const height = rows.length * ROW + 22;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ x: LABEL + f * (WIDTH - LABEL - 10), label: duration(f * (t1 - t0)), anchor: f === 1 ? 'end' : f === 0 ? 'start' : 'middle' }));
  return html`<div class="timeline-box">
    <svg class="timeline" width=${WIDTH} height=${height} data-bars=${rows.length}>
      ${ticks.map((t) => html`<line class="tick" x1=${t.x} x2=${t.x} y1="0" y2=${height - 16} /><text class="tick-label" x=${t.x} y=${height - 4} text-anchor=${t.anchor}>${t.label}</text>`)}
      ${rows.map((b, i) => {
        const x = LABEL + (Date.parse(b.start) - t0) * scale;
        const w = Math.max(2, (endOf(b) - Date.parse(b.start)) * scale);
        const label = `${b.path}${b.iteration === undefined ? '' : ` #${b.iteration}`}`;
        const link = `#/run/${encodeURIComponent(run)}/stage/${encodeURIComponent(b.path)}${b.iteration === undefined ? '' : `/${b.iteration}`}`;
        return html`<g class="bar" data-path=${b.path} data-status=${b.status}>
          <text class="row-label" x=${LABEL - 6} y=${i * ROW + 13}>${label.length > 28 ? `…${label.slice(-27)}` : label}</text>
          <a href=${link}><rect x=${x} y=${i * ROW + 3} width=${w} height=${ROW - 6} rx="3" style=${{ fill: statusColor(b.status) }}><title>${label}: ${b.status}, ${duration(endOf(b) - Date.parse(b.start))}</title></rect></a>
        </g>`;
      })}
    </svg>
  </div>`;
}
