import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { spawnHelpers, spawnHere, type SpawnRequest, type SpawnResult } from '../../src/process/spawn.js';
import { helperScript, SpawnHelper } from '../../src/process/spawner.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { alive, run } from '../support/run-helpers.js';

// These tests drive the built helper (dist/process/spawner-main.js): run `npm run build` first.
const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });

/** The process's helpers, one loaded at least: stages started from now on go through them. */
async function readyHelpers(): Promise<{ pids: () => (number | undefined)[]; byPid: (pid: number) => SpawnHelper | undefined }> {
  const pool = spawnHelpers();
  if (!pool) throw new Error('spawn helpers are off');
  if (!(await pool.warm()?.whenReady)) throw new Error('the spawn helper did not start');
  return { pids: () => pool.alive.map((h) => h.pid), byPid: (pid) => pool.alive.find((h) => h.pid === pid) };
}

const waitFor = async (what: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms;
  while (!what()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('spawn helper', () => {
  beforeEach(() => {
    expect(helperScript()).toBeDefined();
  });

  test('starts programs as its children; output, exit codes and start failures as from execa', async () => {
    const helpers = await readyHelpers();
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        parent: cmd('echo "$PPID"; echo err >&2; exit 3', { success_codes: [3] }),
        missing: cmd(['./no-such-program']),
        argv: cmd(['printf', '%s|%s', 'a b', '$HOME']),
      },
    }));
    expect(r.stage('parent')).toMatchObject({ status: 'succeeded', outputs: { exit_code: 3, stderr: 'err\n' } });
    expect(helpers.pids()).toContain(Number(r.stage('parent').outputs.stdout));
    expect(r.stage('missing')).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(r.stage('missing').message).toContain('no such program');
    expect(r.stage('argv').outputs.stdout).toBe('a b|$HOME');
  });

  test('binary and large output arrives byte for byte, in order', async () => {
    await readyHelpers();
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'blob'), Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7919) % 256)));
    const r = await run(buildPipeline(dir, {
      stages: {
        bytes: cmd("printf 'a\\000b\\377\\376c'"),
        big: cmd('cat blob; cat blob >&2'),
      },
    }));
    expect(r.stage('bytes').outputs.stdout).toBe('a\u0000b\ufffd\ufffdc');
    expect([...readFileSync(path.join(r.summary.record, 'stages', 'bytes.stdout'))]).toEqual([0x61, 0, 0x62, 0xff, 0xfe, 0x63]);
    const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(sha(path.join(r.summary.record, 'stages', 'big.stdout'))).toBe(sha(path.join(dir, 'blob')));
    expect(sha(path.join(r.summary.record, 'stages', 'big.stderr'))).toBe(sha(path.join(dir, 'blob')));
  });

  test('a timeout kills the whole tree of a program the helper started', async () => {
    const helpers = await readyHelpers();
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: { slow: cmd('echo $PPID > parent.pid; (sleep 30 & echo $! > grandchild.pid; wait) & sleep 30', { timeout: '300ms' }) },
    }));
    expect(r.stage('slow')).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(helpers.pids()).toContain(Number(readFileSync(path.join(dir, 'parent.pid'), 'utf8')));
    const grandchild = Number(readFileSync(path.join(dir, 'grandchild.pid'), 'utf8'));
    await waitFor(() => !alive(grandchild), 3000);
  });

  test('when the helper dies, its running program is killed and retried, and later stages start without it', async () => {
    const helpers = await readyHelpers();
    const dir = tempWorkspace();
    const running = run(buildPipeline(dir, {
      stages: {
        victim: cmd('echo $$ $PPID >> pids; if [ "$(wc -l < pids)" -lt 2 ]; then sleep 30; fi; echo done', { retries: 1 }),
        after: cmd('echo "$PPID"', { needs: ['victim'] }),
      },
    }));
    await waitFor(() => {
      try {
        return readFileSync(path.join(dir, 'pids'), 'utf8').endsWith('\n');
      } catch {
        return false;
      }
    });
    const [first, parent] = readFileSync(path.join(dir, 'pids'), 'utf8').split('\n')[0]!.split(' ').map(Number);
    const helper = helpers.byPid(parent!);
    expect(helper).toBeDefined();
    helper!.stop();
    const r = await running;
    expect(r.stage('victim')).toMatchObject({ status: 'succeeded', attempts: 2, outputs: { stdout: 'done\n' } });
    await waitFor(() => !alive(first!), 3000);
    expect(r.stage('after').status).toBe('succeeded');
    expect(r.stage('after').outputs.stdout).not.toBe(`${parent}\n`);
  });

  test('a helper that never loads, or that sends what is not the protocol, is given up; its requests start in-process', async () => {
    const dir = tempWorkspace();
    const silent = path.join(dir, 'silent-helper.mjs');
    writeFileSync(silent, 'setInterval(() => {}, 1000);\n');
    const garbled = path.join(dir, 'garbled-helper.mjs');
    // Ready, then a line of text where a frame should be (what a stray console.log would do).
    writeFileSync(garbled, "process.stdout.write(Buffer.alloc(9)); process.stdin.once('data', () => process.stdout.write('hello from a --require hook\\n')); setInterval(() => {}, 1000);\n");
    const req: SpawnRequest = { file: '/bin/sh', args: ['-c', 'echo ok'], cwd: dir, env: { PATH: process.env.PATH ?? '' } };
    for (const [script, timeout] of [[silent, 200], [garbled, 60_000]] as const) {
      const helper = new SpawnHelper(script, spawnHere, () => undefined, timeout);
      const { child } = await helper.start(req);
      const chunks: Uint8Array[] = [];
      child.stdout?.on('data', (c: Uint8Array) => chunks.push(c));
      expect((await child).exitCode).toBe(0);
      expect(Buffer.concat(chunks).toString()).toBe('ok\n');
      expect(helper.alive).toBe(false);
      await waitFor(() => !alive(helper.pid!), 3000);
    }
  });

  test('variables added over a shared env (a TRACEPARENT) reach that program alone, through the helper and in-process', async () => {
    const dir = tempWorkspace();
    const helper = new SpawnHelper(helperScript()!, spawnHere);
    expect(await helper.whenReady).toBe(true);
    const shared = Object.freeze({ WHO: 'shared', PATH: process.env.PATH ?? '' });
    const print = (envAdd?: Record<string, string>): SpawnRequest => ({ file: '/bin/sh', args: ['-c', 'printf "%s %s" "$WHO" "${TRACEPARENT:-none}"'], cwd: dir, env: shared, ...(envAdd ? { envAdd } : {}) });
    const output = async (start: Promise<{ child: { stdout?: { on(e: 'data', l: (c: Uint8Array) => void): unknown } | null } & PromiseLike<SpawnResult> }>) => {
      const { child } = await start;
      const chunks: Uint8Array[] = [];
      child.stdout?.on('data', (c) => chunks.push(c));
      await child;
      return Buffer.concat(chunks).toString();
    };
    // Three requests on one env object: the helper keeps it by id from the second on.
    expect(await output(helper.start(print({ TRACEPARENT: 'one' })))).toBe('shared one');
    expect(await output(helper.start(print({ TRACEPARENT: 'two', WHO: 'over' })))).toBe('over two');
    expect(await output(helper.start(print()))).toBe('shared none');
    expect(await output(spawnHere(print({ TRACEPARENT: 'here' })))).toBe('shared here');
    expect(shared).toStrictEqual({ WHO: 'shared', PATH: process.env.PATH ?? '' });
    helper.stop();
  });

  test('a request the helper never answered is started in-process instead', async () => {
    const dir = tempWorkspace();
    // A helper that says it is ready, then dies on the first request without answering it.
    const fake = path.join(dir, 'fake-helper.mjs');
    writeFileSync(fake, "process.stdout.write(Buffer.alloc(9)); process.stdin.once('data', () => process.exit(1));\n");
    const helper = new SpawnHelper(fake, spawnHere);
    expect(await helper.whenReady).toBe(true);
    const req: SpawnRequest = { file: '/bin/sh', args: ['-c', 'printf "%s" "$WHO"; exit 4'], cwd: dir, env: { WHO: 'fallback', PATH: process.env.PATH ?? '' } };
    const { child } = await helper.start(req);
    const chunks: Uint8Array[] = [];
    child.stdout?.on('data', (c: Uint8Array) => chunks.push(c));
    const result: SpawnResult = await child;
    expect(result.exitCode).toBe(4);
    expect(Buffer.concat(chunks).toString()).toBe('fallback');
    expect(helper.ready).toBe(false);
  });
});
