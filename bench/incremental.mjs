#!/usr/bin/env node
// Incremental runs (docs/cache-and-watch.md), on the flagship example examples/roman-numerals copied to a
// temp folder (it runs offline from its cassette). Prints:
//  1. a no-op re-apply: every stage from the cache — wall time of the whole CLI (goal ≤ 300 ms)
//     and the model calls it made (goal 0), beside the CLI's bare start (`factory --version`)
//     and the cold apply that filled the cache;
//  2. watch mode: the time from a write to SPEC.md to the rerun's first stage starting (goal:
//     within the debounce + 100 ms), over several edits, with the debounce it ran with.
// Figures only; nothing is asserted. Run `npm run build` first.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from './lib/temp.mjs';
import path from 'node:path';
import { BIN, fmt, median, ROOT, timeCommand } from './lib/measure.mjs';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const EDITS = Number(process.env.BENCH_EDITS ?? 5);
const DEBOUNCE_MS = 200;
const env = { ...process.env, CI: '1', NO_COLOR: '1', ANTHROPIC_API_KEY: '' };

const dir = tempDir('factory-bench-incremental-');
cpSync(path.join(ROOT, 'examples', 'roman-numerals'), dir, { recursive: true, filter: (src) => !/[/\\]\.factory$/.test(src) });

function apply() {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, 'apply', '--json'], { cwd: dir, env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`apply exited ${r.status}: ${r.stderr.slice(-800)}`);
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  return {
    ms,
    calls: events.filter((e) => e.type === 'model_call').length,
    started: events.filter((e) => e.type === 'stage_started').length,
    cached: events.filter((e) => e.type === 'stage_finished' && e.cached).length,
  };
}

const bare = median(Array.from({ length: REPEAT }, () => timeCommand(process.execPath, [BIN, '--version'], { env })));
const cold = apply();
const warm = Array.from({ length: REPEAT }, apply);
const noop = median(warm.map((w) => w.ms));
const calls = Math.max(...warm.map((w) => w.calls));
console.log(`no-op re-apply of examples/roman-numerals (median of ${REPEAT}):`);
console.log(`  factory --version (bare start)   ${fmt(bare)}`);
console.log(`  cold apply (fills the cache)     ${fmt(cold.ms)}  ${cold.calls} model calls, ${cold.started} stages run`);
console.log(`  no-op re-apply                   ${fmt(noop)}  ${calls} model calls, ${warm[0].started} stages run, ${warm[0].cached} cached  (goal ≤ 300 ms, 0 calls)  ${(noop / bare).toFixed(2)}× the bare start`);

// Watch mode: write SPEC.md, time until the rerun's first stage_started event.
const child = spawn(process.execPath, [BIN, 'apply', '--watch', '--json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
let buffer = '';
const waiters = [];
child.stdout.on('data', (chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line);
    const at = Date.now();
    for (const w of [...waiters]) {
      if (w.pred(event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve({ event, at });
      }
    }
  }
});
let stderr = '';
child.stderr.on('data', (c) => (stderr += c));
const next = (pred, ms = 30_000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch: timed out; stderr:\n${stderr.slice(-800)}`)), ms);
    waiters.push({ pred, resolve: (v) => (clearTimeout(timer), resolve(v)) });
  });

await next((e) => e.type === 'run_finished');
await new Promise((r) => setTimeout(r, 500));
const spec = readFileSync(path.join(dir, 'SPEC.md'), 'utf8');
const latencies = [];
for (let i = 0; i < EDITS; i++) {
  const firstStage = next((e) => e.type === 'stage_started');
  const finished = next((e) => e.type === 'run_finished');
  const wrote = Date.now();
  writeFileSync(path.join(dir, 'SPEC.md'), `${spec}\n<!-- edit ${i} -->\n`);
  const { at } = await firstStage;
  latencies.push(at - wrote);
  await finished;
  await new Promise((r) => setTimeout(r, 300));
}
child.kill('SIGINT');
const code = await new Promise((r) => child.on('close', r));
console.log(`\nwatch mode: a write to SPEC.md → the rerun's first stage started (debounce ${DEBOUNCE_MS} ms, ${EDITS} edits):`);
console.log(`  median ${fmt(median(latencies))}, each: ${latencies.map((ms) => `${ms}`).join(', ')} ms  (goal ≤ ${DEBOUNCE_MS + 100} ms)  Ctrl-C exit ${code}`);
