#!/usr/bin/env node
// A 500-stage no-op DAG (10 wide, 50 deep, each stage needing two of the previous layer, each
// running argv ["true"] without a shell), run by: the built factory CLI, a bare Node runner on
// child_process.spawn, `make -j`, and wireit — all with the same concurrency, in this one
// process run. Prints wall times and ratios against the bare Node floor, plus the wall time of
// a one-stage pipeline. Figures only; nothing is asserted. Run `npm run build` first.
// Also shown: factory with its spawn helpers off (FACTORY_SPAWN_HELPER=0: every program started
// from factory's own process, through execa), the load average, and what creating a file costs
// where the benchmark runs (earlier versions wrote a record file per stage; the journal appends a
// line per event to one open file instead). The run goes to a temp folder on the disk, not tmpfs
// (BENCH_DIR moves it, e.g. BENCH_DIR=/dev/shm); the row "records on tmpfs" keeps the run where
// it is and puts only .factory on /dev/shm. The engine's own figure is
// (apply − validate + bare node) / floor: factory's start-up (loading, checking the file) is
// measured by bench/validate, so here it is taken out and a bare Node start put back.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WIDTH = 10;
const DEPTH = 50;
const JOBS = Number(process.env.BENCH_JOBS ?? 2);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

const id = (layer, i) => `s${layer}_${i}`;
const stages = [];
for (let l = 0; l < DEPTH; l++) {
  for (let i = 0; i < WIDTH; i++) stages.push({ id: id(l, i), needs: l === 0 ? [] : [id(l - 1, i), id(l - 1, (i + 1) % WIDTH)] });
}

/** The file system type holding `dir` (from /proc/mounts; undefined where there is none). */
function fsType(dir) {
  try {
    let best = { at: '', type: undefined };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, at, type] = line.split(' ');
      if (at && (dir === at || dir.startsWith(at === '/' ? '/' : `${at}/`)) && at.length > best.at.length) best = { at, type };
    }
    return best.type;
  } catch {
    return undefined;
  }
}
// On the disk by default: where the OS's temp folder is tmpfs, a folder beside the project.
const base = process.env.BENCH_DIR ?? (fsType(tmpdir()) === 'tmpfs' ? path.join(ROOT, '.bench-tmp') : tmpdir());
mkdirSync(base, { recursive: true });
const work = mkdtempSync(path.join(base, 'factory-bench-'));
const dirs = Object.fromEntries(['factory', 'node', 'make', 'wireit', 'one'].map((k) => [k, path.join(work, k)]));
for (const d of Object.values(dirs)) mkdirSync(d);

// (a) factory
writeFileSync(path.join(dirs.factory, 'factory.yaml'), [
  'version: 1', 'name: dag', `concurrency: ${JOBS}`, 'stages:',
  ...stages.flatMap((s) => [`  ${s.id}:`, '    kind: command', '    run: ["true"]', ...(s.needs.length ? [`    needs: [${s.needs.join(', ')}]`] : [])]),
].join('\n') + '\n');
writeFileSync(path.join(dirs.one, 'factory.yaml'), 'version: 1\nname: one\nstages:\n  only:\n    kind: command\n    run: ["true"]\n');

// (b) a bare Node runner: the floor any DAG runner on child_process.spawn can reach
writeFileSync(path.join(dirs.node, 'dag.json'), JSON.stringify(stages));
writeFileSync(path.join(dirs.node, 'runner.mjs'), `
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
const stages = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const jobs = Number(process.argv[3]);
const left = new Map(stages.map((s) => [s.id, s.needs.length]));
const dependants = new Map(stages.map((s) => [s.id, []]));
for (const s of stages) for (const n of s.needs) dependants.get(n).push(s.id);
const ready = stages.filter((s) => s.needs.length === 0).map((s) => s.id);
let running = 0;
let done = 0;
function pump() {
  while (running < jobs && ready.length > 0) {
    const id = ready.shift();
    running++;
    const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => {});
    child.stderr.on('data', () => {});
    child.on('close', (code) => {
      if (code !== 0) process.exit(1);
      running--;
      done++;
      for (const d of dependants.get(id)) {
        left.set(d, left.get(d) - 1);
        if (left.get(d) === 0) ready.push(d);
      }
      if (done === stages.length) process.exit(0);
      pump();
    });
  }
}
pump();
`);

// (c) make
writeFileSync(path.join(dirs.make, 'Makefile'), [
  `.PHONY: all ${stages.map((s) => s.id).join(' ')}`,
  `all: ${stages.slice(-WIDTH).map((s) => s.id).join(' ')}`,
  ...stages.map((s) => `${s.id}: ${s.needs.join(' ')}\n\t@true`),
].join('\n') + '\n');

// (d) wireit
const wireit = { all: { dependencies: stages.slice(-WIDTH).map((s) => s.id) } };
for (const s of stages) wireit[s.id] = { command: 'true', ...(s.needs.length ? { dependencies: s.needs } : {}) };
writeFileSync(path.join(dirs.wireit, 'package.json'), JSON.stringify({
  name: 'dag', private: true,
  scripts: Object.fromEntries(['all', ...stages.map((s) => s.id)].map((k) => [k, 'wireit'])),
  wireit,
}, null, 1));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(dirs.wireit, 'node_modules'));

const factory = path.join(ROOT, 'bin', 'factory.js');
// The same pipeline with its records (.factory: the journal, logs, run.json) on tmpfs, when the run is
// elsewhere: how much of factory's time is the disk's rather than the engine's.
const shm = '/dev/shm';
const tmpfsRecords = existsSync(shm) && !work.startsWith(`${shm}/`) ? mkdtempSync(path.join(shm, 'factory-bench-records-')) : undefined;
const recordsOnTmpfs = () => {
  const target = path.join(tmpfsRecords, 'factory');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target);
  symlinkSync(target, path.join(dirs.factory, '.factory'));
};
// An OTLP/HTTP receiver in a process of its own (spawnSync blocks this one), for the row that
// exports the run's trace: it takes every request and answers 200.
const receiver = spawn(process.execPath, ['-e', `require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.writeHead(200, { 'content-type': 'application/json' }).end('{}')); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
const [receiverPort] = await once(receiver.stdout, 'data');
const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${String(receiverPort).trim()}` };
const runners = {
  'node spawn (floor)': () => [process.execPath, ['runner.mjs', 'dag.json', String(JOBS)], dirs.node],
  factory: () => [process.execPath, [factory, 'apply', '--quiet'], dirs.factory],
  ...(tmpfsRecords ? { 'factory, records on tmpfs': () => [process.execPath, [factory, 'apply', '--quiet'], dirs.factory, {}, recordsOnTmpfs] } : {}),
  'factory, exporting a trace': () => [process.execPath, [factory, 'apply', '--quiet'], dirs.factory, otlp],
  'factory, no helper': () => [process.execPath, [factory, 'apply', '--quiet'], dirs.factory, { FACTORY_SPAWN_HELPER: '0' }],
  'factory validate': () => [process.execPath, [factory, 'validate'], dirs.factory],
  'bare node': () => [process.execPath, ['-e', '0'], dirs.one],
  [`make -j${JOBS}`]: () => ['make', [`-j${JOBS}`, '--no-print-directory', '-s'], dirs.make],
  wireit: () => ['npm', ['run', '--silent', 'all'], dirs.wireit],
};
// factory's code cache goes to a folder of this run's own, written by its first run (one left by
// another run of the same build, say a test's, may hold less than apply uses).
const env = { ...process.env, WIREIT_PARALLEL: String(JOBS), WIREIT_CACHE: 'none', WIREIT_LOGGER: 'quiet', CI: '1', XDG_CACHE_HOME: path.join(work, 'code-cache') };

function time(cmd, args, cwd, extraEnv = {}, prepare = undefined) {
  rmSync(path.join(cwd, '.factory'), { recursive: true, force: true });
  prepare?.();
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) return { ms, error: `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}` };
  return { ms };
}

/** Mean time to create (and close) an empty file in `dir`. */
function fileCreateMs(dir, n = 200) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) closeSync(openSync(path.join(dir, `probe-${i}`), 'w'));
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / n;
  for (let i = 0; i < n; i++) unlinkSync(path.join(dir, `probe-${i}`));
  return ms;
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();
const createMs = fileCreateMs(work);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
const errors = {};
const one = [];
for (let rep = 0; rep < REPEAT; rep++) {
  for (const [name, make] of Object.entries(runners)) {
    const r = time(...make());
    if (r.error) errors[name] = r.error;
    else results[name].push(r.ms);
  }
  one.push(time(process.execPath, [factory, 'apply', '--quiet'], dirs.one).ms);
}

console.log(`500-stage no-op DAG (${WIDTH} wide × ${DEPTH} deep, 2 needs each, argv ["true"]), concurrency ${JOBS}, median of ${REPEAT}`);
console.log(`  in ${path.dirname(work)} (${fsType(work) ?? 'unknown file system'}; creating a file there: ${createMs.toFixed(3)} ms); load average ${loadBefore} before, ${load()} after`);
const floor = median(results['node spawn (floor)']);
for (const [name, times] of Object.entries(results)) {
  if (errors[name] && times.length === 0) {
    console.log(`  ${name.padEnd(26)} failed: ${errors[name]}`);
    continue;
  }
  const m = median(times);
  console.log(`  ${name.padEnd(26)} ${m.toFixed(0).padStart(6)} ms   ${(m / floor).toFixed(2)}× the floor`);
}
if (results.factory.length && results['factory validate'].length && results['bare node'].length) {
  const engine = median(results.factory) - median(results['factory validate']) + median(results['bare node']);
  console.log(`  ${'factory engine'.padEnd(26)} ${engine.toFixed(0).padStart(6)} ms   ${(engine / floor).toFixed(2)}× the floor   (apply − validate + bare node; goal ≤ 1.3× on disk, ≤ 1.25× on tmpfs)`);
  if (results['factory, records on tmpfs']?.length) {
    const t = median(results['factory, records on tmpfs']) - median(results['factory validate']) + median(results['bare node']);
    console.log(`  ${'  records on tmpfs'.padEnd(26)} ${t.toFixed(0).padStart(6)} ms   ${(t / floor).toFixed(2)}× the floor`);
  }
}
if (results.factory.length && results['factory, exporting a trace']?.length) {
  const plain = median(results.factory);
  const traced = median(results['factory, exporting a trace']);
  console.log(`  ${'trace export overhead'.padEnd(26)} ${(traced - plain).toFixed(0).padStart(6)} ms   ${(((traced - plain) / plain) * 100).toFixed(1)}% of factory's time   (OTLP/HTTP JSON to a local receiver; goal < 10%)`);
}
receiver.kill();
console.log(`one-stage pipeline:    ${median(one).toFixed(0).padStart(6)} ms   (goal < 200 ms)`);
rmSync(work, { recursive: true, force: true });
if (tmpfsRecords) rmSync(tmpfsRecords, { recursive: true, force: true });
