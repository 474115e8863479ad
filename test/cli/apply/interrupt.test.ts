import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadRun } from '../../../src/records/read.js';
import type { RunRecord } from '../../../src/records/types.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { alive } from '../../support/run-helpers.js';
import { requireBuild, start, until } from '../../support/cli.js';

beforeAll(requireBuild);

/** The run's record as readers see it: folded from its journals while it runs, or after a kill. */
const runJson = (dir: string): RunRecord => {
  const runs = path.join(dir, '.factory', 'runs');
  const loaded = loadRun(dir, readdirSync(runs)[0]!);
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.record;
};
const pidIn = (dir: string, file: string) => Number(readFileSync(path.join(dir, file), 'utf8'));

describe('interrupting apply (the built CLI)', () => {
  test('SIGINT kills running process trees, records them cancelled, prints the summary and exits 130', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
name: interrupt
concurrency: 2
stages:
  long:
    kind: command
    run: (sleep 30 & echo $! > grandchild.pid; wait) & sleep 30
  stubborn:
    kind: command
    run: trap 'echo TERM >> signals' TERM; echo $$ > stubborn.pid; sleep 30 & wait; sleep 30
  after:
    kind: command
    needs: [long]
    run: echo never
`);
    const cli = start(['apply', '--json'], dir);
    await cli.waitFor((e) => e.type === 'stage_started' && e.stage === 'long');
    await cli.waitFor((e) => e.type === 'stage_started' && e.stage === 'stubborn');
    await until(() => existsSync(path.join(dir, 'grandchild.pid')) && existsSync(path.join(dir, 'stubborn.pid')));
    cli.kill('SIGINT');
    const exit = await cli.done;
    expect(exit.code).toBe(130);
    const record = runJson(dir);
    expect(record).toMatchObject({ status: 'cancelled', exit_code: 130 });
    expect(record.stages.long).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(record.stages.stubborn).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(record.stages.after).toMatchObject({ status: 'cancelled', attempts: 0 });
    expect(alive(pidIn(dir, 'grandchild.pid'))).toBe(false);
    // The stage that shrugs off SIGTERM got it first, and was killed when the grace period ended.
    expect(readFileSync(path.join(dir, 'signals'), 'utf8')).toBe('TERM\n');
    expect(alive(pidIn(dir, 'stubborn.pid'))).toBe(false);
    expect(cli.stderr()).toContain('SIGINT');
    expect(cli.stdout()).toContain('"type":"run_finished"');
    expect(existsSync(path.join(dir, '.factory', 'lock'))).toBe(false);
  });

  test('a second SIGINT exits at once, without waiting out the grace period of a stage that ignores SIGTERM', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
stages:
  stubborn:
    kind: command
    run: trap 'echo TERM >> signals' TERM; echo $$ > stubborn.pid; sleep 30 & wait; sleep 30
`);
    const cli = start(['apply', '--json'], dir);
    await cli.waitFor((e) => e.type === 'stage_started');
    await until(() => existsSync(path.join(dir, 'stubborn.pid')));
    cli.kill('SIGINT');
    await until(() => existsSync(path.join(dir, 'signals')), 10_000, 'the stage to get its SIGTERM');
    cli.kill('SIGINT');
    const exit = await cli.done;
    const stubborn = pidIn(dir, 'stubborn.pid');
    try {
      expect(exit.code).toBe(130);
      expect(cli.stderr()).toContain('SIGINT again, exiting now');
      // Had the CLI waited for the grace period, its SIGKILL would have ended the stage first.
      expect(alive(stubborn)).toBe(true);
    } finally {
      try {
        process.kill(-stubborn, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  test('kill -9 leaves a readable record showing the running stage; --resume continues it', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
stages:
  a:
    kind: command
    run: echo a >> ran.log
  b:
    kind: command
    needs: [a]
    run: echo b >> ran.log; if [ ! -e go ]; then echo $$ > b.pid; sleep 30; fi
  c:
    kind: command
    needs: [b]
    run: echo c >> ran.log
`);
    const cli = start(['apply', '--json'], dir);
    await cli.waitFor((e) => e.type === 'stage_started' && e.stage === 'b');
    await until(() => existsSync(path.join(dir, 'b.pid')));
    expect(runJson(dir).stages.b?.status).toBe('running'); // the journal has it as soon as the event is out
    cli.kill('SIGKILL');
    await cli.done;
    process.kill(-pidIn(dir, 'b.pid'), 'SIGKILL'); // the orphaned command, as a user would after a crash
    const record = runJson(dir);
    expect(record.status).toBe('running');
    expect(record.stages.a?.status).toBe('succeeded');
    expect(record.stages.b?.status).toBe('running');

    writeFileSync(path.join(dir, 'go'), '');
    writeFileSync(path.join(dir, 'ran.log'), '');
    const resumed = start(['apply', '--resume', '--quiet'], dir);
    const exit = await resumed.done;
    expect(exit.code, resumed.stderr()).toBe(0);
    expect(readFileSync(path.join(dir, 'ran.log'), 'utf8')).toBe('b\nc\n');
    expect(runJson(dir)).toMatchObject({ id: record.id, status: 'succeeded', exit_code: 0 });
  });

  test('a second apply in the same directory is refused while the first runs (exit 2)', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  wait:\n    kind: command\n    run: sleep 30\n');
    const first = start(['apply', '--json'], dir);
    const started = await first.waitFor((e) => e.type === 'run_started');
    const second = start(['apply'], dir);
    const exit = await second.done;
    expect(exit.code).toBe(2);
    expect(second.stderr()).toContain(`another apply is running in this directory: run ${String(started.run)}`);
    first.kill('SIGTERM');
    expect((await first.done).code).toBe(130);
  });
});
