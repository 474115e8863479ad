import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { acquireLock } from '../../src/records/lock.js';
import { lockFile } from '../../src/records/paths.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

const id = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

function workspaceWithStaleLock(): { dir: string; stale: string } {
  const dir = tempWorkspace();
  mkdirSync(path.join(dir, '.factory'));
  const dead = spawnSync('true').pid!;
  const stale = `${JSON.stringify({ pid: dead, run: 'old', host: hostname(), started_at: new Date().toISOString() })}\n`;
  writeFileSync(lockFile(dir), stale);
  return { dir, stale };
}

describe('the workspace lock: taking over', () => {
  test('a stale lock of the earlier format (no nonce) is taken over; nothing is left beside the lock', () => {
    const { dir } = workspaceWithStaleLock();
    const lock = acquireLock(dir, 'new');
    expect(lock.ok).toBe(true);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid, run: 'new' });
    expect(readdirSync(path.join(dir, '.factory'))).toEqual(['lock']);
    if (lock.ok) lock.release();
    expect(readdirSync(path.join(dir, '.factory'))).toEqual([]);
  });

  test('a taker that died holding the right to a stale lock passes it on: the lock is still taken over, and its token removed', () => {
    const { dir, stale } = workspaceWithStaleLock();
    const deadTaker = `${JSON.stringify({ pid: spawnSync('true').pid!, run: 'crashed-taker', host: hostname(), started_at: new Date().toISOString(), nonce: 'ab' })}\n`;
    writeFileSync(`${lockFile(dir)}.takeover-${id(stale)}`, deadTaker);
    const lock = acquireLock(dir, 'new');
    expect(lock.ok, !lock.ok ? lock.message : '').toBe(true);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({ run: 'new' });
    expect(readdirSync(path.join(dir, '.factory'))).toEqual(['lock']);
    if (lock.ok) lock.release();
  });

  test('while a live process holds the right to take a stale lock over, others do not take it too', () => {
    const { dir, stale } = workspaceWithStaleLock();
    // This test's own process plays a taker that is still at work.
    const liveTaker = `${JSON.stringify({ pid: process.pid, run: 'busy-taker', host: hostname(), started_at: new Date().toISOString(), nonce: 'cd' })}\n`;
    writeFileSync(`${lockFile(dir)}.takeover-${id(stale)}`, liveTaker);
    const lock = acquireLock(dir, 'new');
    expect(lock.ok).toBe(false);
    expect(!lock.ok && lock.message).toContain('another factory is taking over a stale lock');
    expect(readFileSync(lockFile(dir), 'utf8')).toBe(stale);
  });

  test('a live lock is never taken over, and release leaves a lock that is not ours alone', () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, '.factory'));
    const first = acquireLock(dir, 'one');
    expect(first.ok).toBe(true);
    const held = readFileSync(lockFile(dir), 'utf8');
    const second = acquireLock(dir, 'one');
    expect(second).toMatchObject({ ok: false, holder: { run: 'one', pid: process.pid } });
    // A lock with the same pid and run but another nonce is another acquisition's: not released by this one.
    writeFileSync(lockFile(dir), held.replace(/"nonce": "[0-9a-f]+"/, '"nonce": "0000"'));
    if (first.ok) first.release();
    expect(readdirSync(path.join(dir, '.factory'))).toEqual(['lock']);
  });
});
