import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { lockFile } from '../../src/records/paths.js';
import { tempWorkspace } from '../support/pipeline-builder.js';
import { requireBuild } from '../support/cli.js';

beforeAll(requireBuild);

const LOCK_MODULE = fileURLToPath(new URL('../../dist/records/lock.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./lock-race-worker.mjs', import.meta.url));
const RACERS = 4;
const ROUNDS = 50;

function runRacer(base: string, index: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, LOCK_MODULE, base, String(ROUNDS), String(index), String(RACERS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`racer ${index} exited ${code}: ${err}`))));
  });
}

describe('taking over a stale lock (real processes racing)', () => {
  test(`${RACERS} processes × ${ROUNDS} rounds on a stale lock: exactly one holder each round`, { timeout: 120_000 }, async () => {
    const base = tempWorkspace('factory-lock-race-');
    const dead = spawnSync('true').pid!;
    for (let r = 0; r < ROUNDS; r++) {
      const ws = path.join(base, `round-${r}`);
      mkdirSync(path.join(ws, '.factory'), { recursive: true });
      writeFileSync(lockFile(ws), `${JSON.stringify({ pid: dead, run: `stale-${r}`, host: hostname(), started_at: new Date().toISOString() })}\n`);
    }
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => runRacer(base, i)));

    const holdersPerRound = Array.from({ length: ROUNDS }, (_, r) => readdirSync(path.join(base, `round-${r}`)).filter((f) => f.startsWith('held-')).length);
    const doubled = holdersPerRound.filter((n) => n > 1).length;
    expect(doubled, `rounds with two or more holders at once: ${doubled} of ${ROUNDS}`).toBe(0);
    expect(holdersPerRound.every((n) => n === 1), `holders per round: ${holdersPerRound.join(',')}`).toBe(true);

    for (let r = 0; r < ROUNDS; r++) {
      // The lock names the one holder, and every other racer was refused with a message naming it.
      const holder = JSON.parse(readFileSync(lockFile(path.join(base, `round-${r}`)), 'utf8')) as { run: string };
      const winner = results.findIndex((rs) => rs[r] === 'held');
      expect(holder.run).toBe(`racer-${winner}-round-${r}`);
      for (const rs of results) if (rs[r] !== 'held') expect(rs[r]).toContain(`run racer-${winner}-round-${r}`);
      // Nothing is left beside the lock: no temp files, no takeover tokens.
      expect(readdirSync(path.join(base, `round-${r}`, '.factory'))).toEqual(['lock']);
    }
  });
});
