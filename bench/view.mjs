#!/usr/bin/env node
// `factory view` in the browser on big records, generated here: the run page of a 500-stage run
// (a DAG 10 wide and 50 deep, each stage needing two of the layer before) and the stage page of
// an agent stage with a 200-turn transcript (a text, a tool call and its result each turn).
// Measured in Chromium (/usr/bin/chromium through playwright-core): the time from navigation
// start until the page shows what it must (500 graph nodes and 500 timeline bars; 200 turns),
// against the floor of the same page machinery, the runs page of an empty folder, measured in
// the same run. Goal (issue 19): under a second each. Figures only; run `npm run build` first.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/* global document -- the ready checks below run in the page */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { startViewServer } = await import(path.join(ROOT, 'dist/view/server.js'));
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const WIDTH = 10;
const DEPTH = 50;
const TURNS = 200;
const RUN = 'big-run';

const work = mkdtempSync(path.join(tmpdir(), 'factory-bench-view-'));
const empty = mkdtempSync(path.join(tmpdir(), 'factory-bench-view-empty-'));

/** The journal of a finished run of `stages` (announced, started, with outputs, finished), one second apart per layer. */
function writeRun(workspace) {
  const dir = path.join(workspace, '.factory', 'runs', RUN);
  mkdirSync(path.join(dir, 'journal'), { recursive: true });
  mkdirSync(path.join(dir, 'stages'), { recursive: true });
  const t0 = Date.parse('2026-12-01T10:00:00.000Z');
  const at = (ms) => new Date(t0 + ms).toISOString();
  const id = (l, i) => `s${l}_${i}`;
  const stages = [];
  for (let l = 0; l < DEPTH; l++) for (let i = 0; i < WIDTH; i++) stages.push({ path: id(l, i), kind: 'command', needs: l === 0 ? [] : [id(l - 1, i), id(l - 1, (i + 1) % WIDTH)], layer: l });
  stages.push({ path: 'agent', kind: 'generate', needs: [id(DEPTH - 1, 0)], layer: DEPTH });
  const base = { run: RUN };
  const lines = [
    { type: 'run_opened', time: at(0), ...base, name: 'big', started_at: at(0), writer: 'bench' },
    { type: 'run_started', time: at(1), ...base, name: 'big', file: 'factory.yaml', dir: workspace, resumed: false, stages: stages.map(({ path: p, kind, needs }) => ({ path: p, kind, needs })) },
  ];
  const usage = { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  for (const s of stages) {
    const start = at(s.layer * 1000 + 10);
    const end = at(s.layer * 1000 + 900);
    const spent = s.kind === 'generate' ? { usage, cost_usd: 0.9 } : { usage: { ...usage, input_tokens: 0, output_tokens: 0 }, cost_usd: 0 };
    lines.push({ type: 'stage_started', time: start, ...base, stage: s.path, kind: s.kind, attempt: 1 });
    lines.push({ type: 'stage_outputs', time: end, ...base, stage: s.path, kind: s.kind, outputs: s.kind === 'generate' ? { summary: 'done', files_changed: ['a.txt'], turns: TURNS } : { exit_code: 0, stdout: '', stderr: '' }, fingerprint: null, started_at: start, ended_at: end, attempts: 1 });
    lines.push({ type: 'stage_finished', time: end, ...base, stage: s.path, status: 'succeeded', cached: false, duration_ms: 890, ...spent });
  }
  lines.push({ type: 'run_ended', time: at(DEPTH * 1000 + 1000), ...base, status: 'succeeded', exit_code: 0, ended_at: at(DEPTH * 1000 + 1000) });
  writeFileSync(path.join(dir, 'journal', 'bench.ndjson'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(path.join(dir, 'stages', 'agent.transcript.jsonl'), transcript());
  writeFileSync(path.join(dir, 'stages', 'agent.prompt.md'), 'Write a.txt.\n'.repeat(40));
}

function transcript() {
  const out = [{ type: 'attempt', attempt: 1, time: '2026-12-01T10:00:50.000Z' }];
  for (let n = 1; n <= TURNS; n++) {
    const use = { type: 'tool_use', id: `t${n}`, name: n % 3 === 0 ? 'edit_file' : 'read_file', input: n % 3 === 0 ? { path: 'a.txt', old: `line ${n - 1}`, new: `line ${n}` } : { path: `src/file${n}.ts` } };
    out.push({ type: 'request', call: n, key: { stage: 'agent', iteration: 0, call: n }, request: { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [] } });
    out.push({ type: 'response', call: n, ms: 900, cost_usd: 0.0045, message: { id: `m${n}`, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: `Turn ${n}: looking at the next file. `.repeat(4) }, use], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 1000, output_tokens: 120, cache_creation_input_tokens: 0, cache_read_input_tokens: 8000 } } });
    out.push({ type: 'tool_call', turn: n, id: `t${n}`, name: use.name, input: use.input });
    out.push({ type: 'tool_result', turn: n, id: `t${n}`, name: use.name, is_error: n % 17 === 0, content: `export const value${n} = ${n};\n`.repeat(30), ms: 0.5 });
  }
  return out.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

writeRun(work);
const big = await startViewServer({ workspace: work });
const none = await startViewServer({ workspace: empty });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** Milliseconds from navigation start until `ready` holds in the page (a fresh page each time). */
async function measure(url, ready, arg) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await page.waitForFunction(ready, arg, { polling: 'raf', timeout: 30_000 });
  const ms = await page.evaluate(() => performance.now());
  if (process.env.BENCH_DEBUG) console.log(url.slice(-30), await page.evaluate(() => JSON.stringify(performance.getEntriesByType('resource').map((e) => [e.name.replace(/\?.*/, '').slice(-30), Math.round(e.startTime), Math.round(e.responseEnd)]))));
  await page.close();
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases = [
  ['floor: runs page of an empty folder', `${none.url}#/`, () => document.querySelector('main p, table.runs') !== null, undefined],
  [`run page, ${WIDTH * DEPTH + 1} stages`, `${big.url}#/run/${RUN}`, (n) => document.querySelectorAll('svg.graph .node').length >= n && document.querySelectorAll('svg.timeline .bar').length >= n, WIDTH * DEPTH + 1],
  [`stage page, ${TURNS}-turn transcript`, `${big.url}#/run/${RUN}/stage/agent`, (n) => document.querySelectorAll('ol.transcript .turn').length >= n, TURNS],
];
const results = [];
try {
  for (const [name, url, ready, arg] of cases) {
    await measure(url, ready, arg); // warm-up: the first page of a browser pays for its start
    const times = [];
    for (let i = 0; i < REPEAT; i++) times.push(await measure(url, ready, arg));
    results.push({ name, ms: median(times) });
  }
} finally {
  await browser.close();
  await big.close();
  await none.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
}
const floor = results[0].ms;
console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (figures are noisy on a busy machine); median of ${REPEAT}`);
for (const r of results) console.log(`${r.name.padEnd(40)} ${r.ms.toFixed(0).padStart(6)} ms   ×${(r.ms / floor).toFixed(2)} the floor   ${r === results[0] ? '' : r.ms < 1000 ? 'under 1 s' : 'OVER 1 s'}`);
