import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { alive, run } from '../support/run-helpers.js';

describe('timeouts kill the whole process tree', () => {
  test('a grandchild that would outlive its shell dies with it', async () => {
    const dir = tempWorkspace();
    // The subshell's `sleep` is a grandchild of factory; killing only `sh` would leave it running.
    const r = await run(buildPipeline(dir, {
      // 2s, not less: the subshell must have written its pid before the timeout, on a busy machine too.
      stages: { slow: { kind: 'command', run: '(sleep 30 & echo $! > grandchild.pid; wait) & sleep 30', timeout: '2s', retries: 0 } },
    }));
    expect(r.stage('slow')).toMatchObject({ status: 'error', reason: 'timeout', attempts: 1 });
    expect(r.stage('slow').message).toBe('timed out after 2s');
    const pid = Number(readFileSync(path.join(dir, 'grandchild.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
    expect(r.summary.exit_code).toBe(1);
  });

  test('a child that ignores SIGTERM is killed after the grace period', async () => {
    const dir = tempWorkspace();
    const started = Date.now();
    const r = await run(buildPipeline(dir, {
      stages: { stubborn: { kind: 'command', run: "trap '' TERM; echo $$ > pid; sleep 30 & wait; sleep 30", timeout: '200ms', retries: 0 } },
    }));
    expect(r.stage('stubborn')).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(alive(Number(readFileSync(path.join(dir, 'pid'), 'utf8')))).toBe(false);
  });

  test('a timed-out attempt is retried and may then succeed', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        flaky: { kind: 'command', run: 'echo x >> attempts; if [ "$(wc -l < attempts)" -lt 2 ]; then sleep 30; fi; echo done', timeout: '300ms', retries: 2 },
      },
    }));
    expect(r.stage('flaky')).toMatchObject({ status: 'succeeded', attempts: 2, outputs: { stdout: 'done\n' } });
    expect(r.events.of('stage_started').map((e) => e.attempt)).toEqual([1, 2]);
  });
});
