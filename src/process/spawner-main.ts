/**
 * factory's spawn helper: a small Node process that starts command stages' programs for the
 * engine (spawner.ts is the other end; spawner-protocol.ts the wire format).
 *
 * Why it exists: fork() copies the page tables of the process that calls it, so spawning costs
 * time in proportion to the caller's memory. The engine holds the parsed pipeline, the schema
 * validators and the renderers (≈120 MB resident on a 500-stage pipeline, ≈1.8 ms per spawn);
 * this process holds nothing (≈45 MB, ≈1.1 ms per spawn), and it forks on its own core while the
 * engine does its bookkeeping.
 *
 * Why child_process and not execa here: measured on 300 `true` spawns at concurrency 2 in a bare
 * process, child_process.spawn took 1.05 ms per call and 355 ms in all; execa with the options of
 * spawn.ts 1.6 ms per call and 600 ms, and its import adds ~60 ms of start-up and ~20 MB of heap,
 * which makes every later fork dearer. The helper needs none of execa's features: output is
 * forwarded as raw bytes, process groups are signalled by the engine, errors are plain errno
 * codes. The engine keeps execa for the programs it starts itself (see spawn.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { FRAME, frameHeader, type FrameKind, type SpawnMessage } from './spawner-protocol.js';

// Sockets on the inherited pipes: non-blocking, unlike process.stdout can be.
const output = new Socket({ fd: 1, readable: false, writable: true });
const input = new Socket({ fd: 0, readable: true, writable: false });
const envs = new Map<number, Record<string, string>>();
/** Output streams of running programs, paused together while factory catches up with output. */
const streams = new Set<Readable>();
let paused = false;

function send(kind: FrameKind, id: number, payload?: Buffer): void {
  const header = frameHeader(kind, id, payload?.length ?? 0);
  let ok: boolean;
  if (payload && payload.length > 0) {
    output.cork();
    output.write(header);
    ok = output.write(payload);
    output.uncork();
  } else {
    ok = output.write(header);
  }
  if (!ok && !paused) {
    paused = true;
    for (const s of streams) s.pause();
  }
}

output.on('drain', () => {
  paused = false;
  for (const s of streams) s.resume();
});
// factory has gone: nothing can be reported any more. Programs already started keep running, as
// they would had factory started them itself (they lead their own process groups).
output.on('error', () => process.exit(0));
input.on('end', () => process.exit(0));
input.on('error', () => process.exit(0));

function failed(id: number, err: unknown): void {
  const e = err as NodeJS.ErrnoException | undefined;
  send(FRAME.failed, id, Buffer.from(JSON.stringify({ code: e?.code ?? null, message: e?.message ?? String(err) })));
}

function forward(id: number, kind: FrameKind, stream: Readable): void {
  streams.add(stream);
  if (paused) stream.pause();
  stream.on('data', (chunk: Buffer) => send(kind, id, chunk));
  stream.on('close', () => streams.delete(stream));
}

function start(m: SpawnMessage): void {
  const kept = typeof m.e === 'number' ? envs.get(m.e) : m.e;
  if (kept === undefined) return failed(m.s, new Error(`spawn helper: unknown environment ${JSON.stringify(m.e)}`));
  const env = m.x ? { ...kept, ...m.x } : kept;
  let child: ChildProcess;
  try {
    // The same settings as spawn.ts gives execa: no stdin, piped output, its own process group.
    child = spawn(m.f, m.a, { cwd: m.c, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true });
  } catch (err) {
    return failed(m.s, err);
  }
  if (child.pid === undefined) {
    child.once('error', (err) => failed(m.s, err));
    return;
  }
  const pid = Buffer.allocUnsafe(4);
  pid.writeUInt32LE(child.pid, 0);
  send(FRAME.spawned, m.s, pid);
  forward(m.s, FRAME.stdout, child.stdout!);
  forward(m.s, FRAME.stderr, child.stderr!);
  child.on('error', () => undefined); // a failed kill(); the engine signals groups itself
  child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
    send(FRAME.exit, m.s, Buffer.from(JSON.stringify([code, signal])));
  });
}

function handle(line: string): void {
  const m = JSON.parse(line) as SpawnMessage | { v: number; env: Record<string, string> } | { d: number };
  if ('s' in m) start(m);
  else if ('v' in m) envs.set(m.v, m.env);
  else envs.delete(m.d);
}

let partial = '';
input.setEncoding('utf8');
input.on('data', (text: string) => {
  const lines = (partial + text).split('\n');
  partial = lines.pop()!;
  for (const line of lines) if (line !== '') handle(line);
});

send(FRAME.ready, 0);
