// bench/validate: how much a cold `factory --version` and `factory validate` of a full example
// cost over starting Node at all, and how
// validate + plan scale to a 10,000-stage pipeline (time and peak memory).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from './lib/temp.mjs';
import path from 'node:path';
import { loadavg } from 'node:os';
import { BIN, ROOT, fmt, median, timeCommand } from './lib/measure.mjs';

const dir = tempDir('factory-bench-validate-');
// The complete example of the language reference (a plan and a four-stage loop), kept in bench/inputs/.
const exampleName = 'the reference example';
const example = readFileSync(path.join(ROOT, 'bench', 'inputs', 'spec-example.yaml'), 'utf8');
writeFileSync(path.join(dir, 'factory.yaml'), example);
writeFileSync(path.join(dir, 'SPEC.md'), '# spec\n');
mkdirSync(path.join(dir, 'scenarios'));
writeFileSync(path.join(dir, 'scenarios', 'one.yaml'), 'name: one\nsteps:\n  - run: "true"\n    expect: { exit_code: 0 }\n');

// Interleaved runs (bare node, --version, validate, validate without the code cache, a first run
// with an empty cache folder, --help), so that a load that comes and goes weighs on all alike;
// medians. The code cache (src/cli/compile-cache.ts) is written by the first run of a build and
// used by every later one. Each process also reports its CPU time (bench/lib/cpu-report.cjs, one
// preload added to every case alike, bare node included): on a shared machine the wall times move
// with the load, the CPU times much less.
const runs = Number(process.env.BENCH_RUNS ?? 21);
const cpuFile = path.join(dir, 'cpu.txt');
const report = ['-r', path.join(ROOT, 'bench', 'lib', 'cpu-report.cjs')];
const noCache = { NODE_DISABLE_COMPILE_CACHE: '1' };
let fresh = 0;
const emptyCache = () => ({ XDG_CACHE_HOME: path.join(dir, `cache-${fresh++}`) });
const timed = (args, options = {}) => () => {
  writeFileSync(cpuFile, '');
  const ms = timeCommand(process.execPath, [...report, ...args], { ...options, env: { ...process.env, ...options.env, BENCH_CPU_FILE: cpuFile } });
  return { ms, cpu: Number(readFileSync(cpuFile, 'utf8')) };
};
// A code cache of this bench's own, written by the warm-up below: one left in the user's cache
// folder by another run of the same build (a test that validated a one-line file, say) would
// hold less than validate uses.
const ownCache = { XDG_CACHE_HOME: path.join(dir, 'cache') };
const cases = {
  bare: timed(['-e', '0']),
  version: timed([BIN, '--version'], { env: ownCache }),
  validate: timed([BIN, 'validate'], { cwd: dir, env: ownCache }),
  validateNoCache: timed([BIN, 'validate'], { cwd: dir, env: noCache }),
  validateFirst: () => timed([BIN, 'validate'], { cwd: dir, env: emptyCache() })(),
  help: timed([BIN, '--help'], { env: ownCache }),
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const fn of Object.values(cases)) fn(); // warm-up: the file cache, and the code cache written
// Each round in its own order: in a fixed one, a disturbance that comes back every second or so
// (this machine has one) falls on the same case round after round.
let seed = 1;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
for (let i = 0; i < runs; i++) {
  const order = Object.entries(cases).sort(() => random() - 0.5);
  for (const [k, fn] of order) times[k].push(fn());
}
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { ms: median(v.map((t) => t.ms)), cpu: median(v.map((t) => t.cpu)) }]));
// The ratio to bare node as well: this machine's speed drifts by half over an hour (bare node
// 100-150 ms), and the milliseconds over node drift with it; the ratio much less.
const row = (label, k, note = '') =>
  console.log(`  ${label.padEnd(34)} ${fmt(m[k].ms).padStart(7)} (+${fmt(m[k].ms - m.bare.ms)}, ×${(m[k].ms / m.bare.ms).toFixed(2)} node)   CPU ${fmt(m[k].cpu).padStart(6)} (+${fmt(m[k].cpu - m.bare.cpu)})${note}`);
console.log('cold start (median of %d interleaved runs; load average %s); wall (over node), CPU (over node)', runs, loadavg().map((x) => x.toFixed(2)).join(' '));
console.log(`  ${'node -e 0'.padEnd(34)} ${fmt(m.bare.ms).padStart(7)}           CPU ${fmt(m.bare.cpu).padStart(6)}`);
row('factory --version', 'version', '   goal ≤ +20 ms');
row('factory validate', 'validate', `   goal ≤ +50 ms (×1.5 node where node takes 100 ms)   (${exampleName})`);
row('  the same, without the code cache', 'validateNoCache');
row('  the same, the first run (writes it)', 'validateFirst');
row('factory --help', 'help');

// 10,000 stages in layers of 10, each needing one stage of the layer before: flow style keeps
// the file under the 1 MiB limit.
const big = path.join(tempDir('factory-bench-validate-big-'), 'big');
mkdirSync(big);
const lines = ['version: 1', 'name: big', 'stages:'];
for (let i = 0; i < 10_000; i++) {
  const needs = i >= 10 ? `, needs: [s${i - 10}]` : '';
  lines.push(`  s${i}: { kind: command, run: ["true"]${needs} }`);
}
writeFileSync(path.join(big, 'factory.yaml'), `${lines.join('\n')}\n`);
const once = (cmd) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench/lib/rss-child.mjs'), cmd], { cwd: big, encoding: 'utf8', env: { ...process.env, ...ownCache } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const out = JSON.parse(r.stdout);
  if (out.code !== 0) throw new Error(`${cmd} exited ${out.code}`);
  return { ms, mb: out.maxRssKB / 1024 };
};
// The first run of each writes its code cache; then the median of three.
const measure = (cmd) => {
  once(cmd);
  const runs3 = [once(cmd), once(cmd), once(cmd)];
  return { ms: median(runs3.map((r) => r.ms)), mb: median(runs3.map((r) => r.mb)) };
};
const v = measure('validate');
const p = measure('plan');
console.log('10,000-stage pipeline (median of 3, after a run that writes the code cache)');
console.log(`  validate   ${fmt(v.ms)}   peak RSS ${v.mb.toFixed(0)} MB`);
console.log(`  plan       ${fmt(p.ms)}   peak RSS ${p.mb.toFixed(0)} MB   (goal: each under 1.5 s and 300 MB)`);
