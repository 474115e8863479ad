import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { requireBuild, start, until } from '../../support/cli.js';

beforeAll(requireBuild);

/** Whether any process of the group is there (process.kill(-pgid, 0) as the issue asks). */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8').trim();

describe('programs left running by a killed apply (the built CLI)', () => {
  test('kill -9 of apply leaves the command running; apply --resume stops that process group before it starts the stage again', async () => {
    const dir = tempWorkspace();
    // The first run records its process group and runs on, ignoring SIGTERM (so it takes
    // SIGKILL); the resumed run (with `go`) writes down whether the old group was still there.
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
stages:
  long:
    kind: command
    run: |
      if [ -e go ]; then
        if kill -0 -$(cat pgid) 2>/dev/null; then echo alive > seen; else echo gone > seen; fi
      else
        trap '' TERM
        echo $$ > pgid
        sleep 30 & echo $! > child.pid
        while :; do sleep 1; done
      fi
`);
    const first = start(['apply', '--json'], dir);
    await first.waitFor((e) => e.type === 'stage_started' && e.stage === 'long');
    await until(() => existsSync(path.join(dir, 'child.pid')));
    const pgid = Number(read(dir, 'pgid'));
    // The running group is recorded beside the lock.
    await until(() => existsSync(path.join(dir, '.factory', 'lock.groups')) && read(dir, '.factory/lock.groups').includes(`+${pgid} `));

    first.child.kill('SIGKILL');
    await first.done;
    expect(groupExists(pgid), 'the orphaned command runs on after kill -9').toBe(true);

    writeFileSync(path.join(dir, 'go'), '');
    const resumed = start(['apply', '--resume', '--quiet'], dir);
    const exit = await resumed.done;
    try {
      expect(exit.code, resumed.stderr()).toBe(0);
      expect(read(dir, 'seen'), 'the old group was gone before the stage ran again').toBe('gone');
      expect(groupExists(pgid)).toBe(false);
      expect(existsSync(path.join(dir, '.factory', 'lock.groups'))).toBe(false);
      expect(existsSync(path.join(dir, '.factory', 'lock'))).toBe(false);
    } finally {
      if (groupExists(pgid)) process.kill(-pgid, 'SIGKILL');
    }
  });

  test('a finished run leaves no record of process groups, and a clean apply after it kills nothing', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  a:\n    kind: command\n    run: echo $$ > pgid\n');
    const run = start(['apply', '--quiet'], dir);
    expect((await run.done).code, run.stderr()).toBe(0);
    expect(existsSync(path.join(dir, '.factory', 'lock.groups'))).toBe(false);
    expect(existsSync(path.join(dir, '.factory', 'lock'))).toBe(false);
  });
});
