import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { RunRecord } from '../../../src/records/types.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { requireBuild, start } from '../../support/cli.js';

beforeAll(requireBuild);

function record(dir: string): { run: RunRecord; stages: string } {
  const runs = path.join(dir, '.factory', 'runs');
  const id = readdirSync(runs)[0]!;
  return { run: JSON.parse(readFileSync(path.join(runs, id, 'run.json'), 'utf8')) as RunRecord, stages: path.join(runs, id, 'stages') };
}

/** Each attempt prints a partial line, and every attempt before the `ok_from`-th hangs until its timeout. */
const flaky = (okFrom: number, retries: number) => `version: 1
stages:
  flaky:
    kind: command
    timeout: 2s
    retries: ${retries}
    run: echo x >> attempts; n=$(wc -l < attempts); printf "partial of attempt $n"; if [ $n -lt ${okFrom} ]; then sleep 30; fi; echo " done"
`;

describe('a timed-out attempt (the built CLI)', () => {
  test('the record says which attempt timed out, after what limit; outputs hold the last attempt, the log every attempt apart', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), flaky(2, 1));
    const cli = start(['apply', '--json'], dir);
    const exit = await cli.done;
    expect(exit.code, cli.stderr()).toBe(0);

    const { run, stages } = record(dir);
    expect(run.stages.flaky).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      message: 'retried: attempt 1 of 2 ended in error: timed out after 2s (reason timeout)',
      outputs: { stdout: 'partial of attempt 2 done\n' },
    });
    expect(readFileSync(path.join(stages, 'flaky.stdout'), 'utf8')).toBe(
      'partial of attempt 1\n--- attempt 2 of 2 (attempt 1: timed out after 2s (reason timeout)) ---\npartial of attempt 2 done\n',
    );

    // The streamed output ends attempt 1's partial line before attempt 2 starts: never glued.
    const events = cli.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; chunk?: string; attempt?: number });
    const order = events.filter((e) => e.type === 'stage_output' || e.type === 'stage_started').map((e) => (e.type === 'stage_started' ? `[attempt ${e.attempt}]` : e.chunk)).join('');
    expect(order).toBe('[attempt 1]partial of attempt 1\n[attempt 2]partial of attempt 2 done\n');
    const finished = events.find((e) => e.type === 'stage_finished') as { message?: string } | undefined;
    expect(finished?.message).toContain('attempt 1 of 2 ended in error: timed out after 2s');
  });

  test('when the last attempt times out too, the message says so for each attempt', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'factory.yaml'), flaky(9, 1));
    const cli = start(['apply', '--quiet'], dir);
    expect((await cli.done).code).toBe(1);
    const { run, stages } = record(dir);
    expect(run.stages.flaky).toMatchObject({
      status: 'error',
      reason: 'timeout',
      attempts: 2,
      message: 'timed out after 2s; retried: attempt 1 of 2 ended in error: timed out after 2s (reason timeout)',
      outputs: { stdout: 'partial of attempt 2' },
    });
    expect(readFileSync(path.join(stages, 'flaky.stdout'), 'utf8')).toBe('partial of attempt 1\n--- attempt 2 of 2 (attempt 1: timed out after 2s (reason timeout)) ---\npartial of attempt 2');
  });
});
