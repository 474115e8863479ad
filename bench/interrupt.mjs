#!/usr/bin/env node
// bench/interrupt: how fast factory stops. The tests check what is stopped and in which order
// (test/cli/apply/interrupt.test.ts, test/stages/timeout.test.ts); the time it takes is measured
// here, each case against a peer doing the same with no engine, interleaved in this one run:
//   - Ctrl-C during a stage (SPEC: within 2 s): `factory apply` vs a bare Node runner that puts
//     the command in its own process group and, on SIGINT, sends it SIGTERM and waits for it;
//   - a second Ctrl-C while a stage shrugs off SIGTERM: factory vs a Node process that exits on
//     SIGINT;
//   - a stage timeout on a command that ignores SIGTERM (timeout 1s, so that the command has set
//     its trap on a busy machine too, then the 1.5 s grace period): `factory apply` vs a bare Node
//     process that does the same to the command's process group (SIGTERM after 1 s, SIGKILL
//     1.5 s later).
// Figures only; nothing is asserted. Run `npm run build` first.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { BIN, fmt, median } from './lib/measure.mjs';
import { tempDir } from './lib/temp.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STUBBORN = "trap 'echo TERM >> signals' TERM; echo $$ > pid; sleep 30 & wait; sleep 30";
const env = { ...process.env, NO_COLOR: '1', CI: '1' };
const work = tempDir('factory-bench-interrupt-');
let n = 0;

/** A fresh folder holding `files`. */
function folder(files) {
  const dir = path.join(work, String(n++));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const closed = (child) => new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
async function until(cond, what) {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`bench/interrupt: ${what} did not happen`);
}

/** Starts `cmd` in `dir`, waits until `ready(dir)`, sends the signals (the next once `between(dir)` holds) and times the last one to the exit. */
async function stopTime(cmd, args, dir, { ready, signals, between = () => true, expectCode }) {
  const child = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const end = closed(child);
  await until(() => ready(dir), `${cmd} ${args.join(' ')}: the command to start`);
  let sentAt = 0;
  for (const [i, sig] of signals.entries()) {
    if (i > 0) await until(() => between(dir), 'the command to get its SIGTERM');
    sentAt = now();
    child.kill(sig);
  }
  const { code } = await end;
  const ms = now() - sentAt;
  if (code !== expectCode) throw new Error(`${cmd} ${args.join(' ')} exited ${code}, not ${expectCode}: ${stderr.slice(0, 500)}`);
  return ms;
}

/** Wall time of a command run to its end, which is its exit code or the signal that ended it. */
function wallTime(cmd, args, dir, expectCode) {
  const start = now();
  const r = spawnSync(cmd, args, { cwd: dir, env, encoding: 'utf8' });
  const ms = now() - start;
  const end = r.status ?? r.signal;
  if (end !== expectCode) throw new Error(`${cmd} ${args.join(' ')} ended with ${end}, not ${expectCode}: ${r.stderr.slice(0, 500)}`);
  return ms;
}

const pipeline = (stage) => `version: 1\nname: interrupt\nstages:\n  only:\n    kind: command\n${stage}`;
const hasPid = (dir) => existsSync(path.join(dir, 'pid'));
const gotTerm = (dir) => existsSync(path.join(dir, 'signals'));

// The peer runner: the command in its own process group; SIGINT → SIGTERM to the group, exit 130 once it is gone.
const RUNNER = `
const { spawn } = require('node:child_process');
const child = spawn('sh', ['-c', process.argv[1]], { detached: true, stdio: 'ignore' });
process.on('SIGINT', () => { process.kill(-child.pid, 'SIGTERM'); child.once('close', () => process.exit(130)); });
`;
// The peer of a stage timeout: SIGTERM to the group after 1 s, SIGKILL 1.5 s later, exit 1 once it is gone.
const TIMER = `
const { spawn } = require('node:child_process');
const child = spawn('sh', ['-c', process.argv[1]], { detached: true, stdio: 'ignore' });
const term = setTimeout(() => process.kill(-child.pid, 'SIGTERM'), 1000);
const kill = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 2500);
child.once('close', () => { clearTimeout(term); clearTimeout(kill); process.exit(1); });
`;
const EXITER = "process.on('SIGINT', () => process.exit(130)); require('node:fs').writeFileSync('pid', String(process.pid)); setInterval(() => {}, 1000);";

const cases = {
  ctrlC: () =>
    stopTime(process.execPath, [BIN, 'apply', '--quiet'], folder({ 'factory.yaml': pipeline('    run: echo $$ > pid; sleep 30\n') }), { ready: hasPid, signals: ['SIGINT'], expectCode: 130 }),
  ctrlCPeer: () => stopTime(process.execPath, ['-e', RUNNER, 'echo $$ > pid; sleep 30'], folder({}), { ready: hasPid, signals: ['SIGINT'], expectCode: 130 }),
  twice: () =>
    stopTime(process.execPath, [BIN, 'apply', '--quiet'], folder({ 'factory.yaml': pipeline(`    run: ${JSON.stringify(STUBBORN)}\n`) }), {
      ready: hasPid,
      signals: ['SIGINT', 'SIGINT'],
      between: gotTerm,
      expectCode: 130,
    }),
  twicePeer: () => stopTime(process.execPath, ['-e', EXITER], folder({}), { ready: hasPid, signals: ['SIGINT'], expectCode: 130 }),
  timeout: () => wallTime(process.execPath, [BIN, 'apply', '--quiet'], folder({ 'factory.yaml': pipeline(`    run: ${JSON.stringify(STUBBORN)}\n    timeout: 1s\n    retries: 0\n`) }), 1),
  timeoutPeer: () => wallTime(process.execPath, ['-e', TIMER, STUBBORN], folder({}), 1),
};

// A stage left running by the "second Ctrl-C" case (factory exits at once, by design) is killed here.
function reapStubborn(dir) {
  try {
    process.kill(-Number(spawnSync('cat', ['pid'], { cwd: dir, encoding: 'utf8' }).stdout), 'SIGKILL');
  } catch {
    // already gone
  }
}

const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i <= RUNS; i++) {
  for (const [k, fn] of Object.entries(cases)) {
    const ms = await fn();
    if (k === 'twice') reapStubborn(path.join(work, String(n - 1)));
    if (i > 0) times[k].push(ms); // the first round warms the file and code caches
  }
}
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const row = (label, k, peer, note) => console.log(`  ${label.padEnd(44)} ${fmt(m[k]).padStart(8)}   peer ${fmt(m[peer]).padStart(8)}   ×${(m[k] / m[peer]).toFixed(2)}   ${note}`);
console.log('stopping (median of %d interleaved runs; load average %s)', RUNS, loadavg().map((x) => x.toFixed(2)).join(' '));
row('Ctrl-C during a stage → exit', 'ctrlC', 'ctrlCPeer', 'goal: within 2 s (SPEC)');
row('second Ctrl-C, stage ignoring SIGTERM → exit', 'twice', 'twicePeer', 'before the 1.5 s grace period ends');
row('timeout 1s, command ignoring SIGTERM', 'timeout', 'timeoutPeer', 'factory adds its start-up (bench/validate)');
