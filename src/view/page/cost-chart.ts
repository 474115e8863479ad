import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { RunRow } from '../model.js';
import { usd } from './format.js';

/** Cost per run over time (uPlot): one point per run at its start, the line joining them. */
export function CostChart({ runs }: { runs: RunRow[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || runs.length === 0) return;
    const xs = runs.map((r) => Date.parse(r.started_at) / 1000);
    const ys = runs.map((r) => r.cost_usd);
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 200,
        title: 'cost per run',
        scales: { x: { time: true, range: (_u, min, max) => (max - min < 600 ? [min - 1800, max + 1800] : [min - (max - min) * 0.03, max + (max - min) * 0.03]) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        axes: [{}, { values: (_u, vals) => vals.map((v) => usd(v)), size: 70 }],
        series: [{}, { label: 'cost', stroke: '#1c7ed6', width: 2, fill: 'rgba(28,126,214,0.08)', points: { show: true, size: 7, fill: '#1c7ed6' }, value: (_u, v: number | null) => (v === null ? '–' : usd(v)) }],
        legend: { show: true },
      },
      [xs, ys],
      el,
    );
    return () => plot.destroy();
  }, [runs]);
  return html`<div class="chart" ref=${box}></div>`;
}
