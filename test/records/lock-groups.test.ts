import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { groupsFile } from '../../src/records/paths.js';
import { parseGroups, reapOrphanGroups } from '../../src/records/process-groups.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

const started: number[] = [];
afterEach(() => {
  for (const pgid of started.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

const exists = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A program leading its own process group, as factory starts them, whose parent has gone (as
 * after `kill -9` of factory): init reaps it, not this test process.
 */
function group(): number {
  const out = spawnSync('sh', ['-c', 'setsid sh -c "sleep 30 & wait" >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
  const pgid = Number(out.stdout.trim());
  started.push(pgid);
  // setsid makes the group as it starts: wait for it.
  const end = Date.now() + 5000;
  while (!exists(pgid) && Date.now() < end) spawnSync('sleep', ['0.02']);
  return pgid;
}

function workspaceWith(writer: { pid: number; host: string }, lines: string[]): string {
  const dir = tempWorkspace();
  mkdirSync(path.join(dir, '.factory'));
  writeFileSync(groupsFile(dir), `${JSON.stringify({ ...writer, run: 'old-run' })}\n${lines.join('\n')}\n`);
  return dir;
}

describe('the process groups recorded with the lock', () => {
  test('parsing: starts minus ends, a torn last line ignored', () => {
    const parsed = parseGroups('{"pid":5,"host":"h","run":"r"}\n+100 1\n+200 2\n-100\n+300 3\n+40');
    expect(parsed?.writer).toEqual({ pid: 5, host: 'h', run: 'r' });
    expect([...parsed!.groups.keys()]).toEqual([200, 300]);
    expect(parseGroups('not json\n+1 2')).toBeUndefined();
  });

  test('a dead writer\'s groups are stopped and the file removed', () => {
    const pgid = group();
    const dead = spawnSync('true').pid!;
    const dir = workspaceWith({ pid: dead, host: hostname() }, [`+${pgid} ${Date.now()}`]);
    const reaped = reapOrphanGroups(dir);
    expect(reaped).toEqual({ ok: true, stopped: [pgid] });
    expect(exists(pgid)).toBe(false);
    expect(existsSync(groupsFile(dir))).toBe(false);
  });

  test('a live writer\'s groups, another host\'s, ended ones and a group id reused since are left alone', async () => {
    const pgid = group();
    const live = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(reapOrphanGroups(workspaceWith({ pid: live.pid!, host: hostname() }, [`+${pgid} ${Date.now()}`]))).toEqual({ ok: true, stopped: [] });
      const dead = spawnSync('true').pid!;
      expect(reapOrphanGroups(workspaceWith({ pid: dead, host: 'another-host' }, [`+${pgid} ${Date.now()}`]))).toEqual({ ok: true, stopped: [] });
      expect(reapOrphanGroups(workspaceWith({ pid: dead, host: hostname() }, [`+${pgid} ${Date.now()}`, `-${pgid}`]))).toEqual({ ok: true, stopped: [] });
      // Recorded an hour before this group's leader started: the id names another group now.
      expect(reapOrphanGroups(workspaceWith({ pid: dead, host: hostname() }, [`+${pgid} ${Date.now() - 3_600_000}`]))).toEqual({ ok: true, stopped: [] });
      expect(exists(pgid)).toBe(true);
    } finally {
      live.kill('SIGKILL');
    }
  });
});
