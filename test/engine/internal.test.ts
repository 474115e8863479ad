import { describe, expect, test } from 'vitest';
import type { StageExecutor, StageExecutors } from '../../src/engine/executor.js';
import { stageExecutors } from '../../src/stages/registry.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';

/**
 * An executor that throws is a bug in factory, not a failure of the user's stage: `error` with
 * reason `internal`, exit 70, and never retried, whatever `retries` says. The engine takes its
 * executors from its caller (the CLI passes stages/registry.ts's), so a real executor that
 * throws stands in for the bug here; nothing of the engine is replaced.
 */
function throwing(calls: { n: number }): StageExecutor {
  return {
    holdsSlot: true,
    async run() {
      calls.n++;
      throw new TypeError("Cannot read properties of undefined (reading 'text')");
    },
  };
}

const withCommand = (command: StageExecutor): StageExecutors => ({ ...stageExecutors, command });

describe('an executor that throws', () => {
  test('ends its stage in error with reason internal, exit 70, after one attempt although retries are set', async () => {
    const dir = tempWorkspace();
    const calls = { n: 0 };
    const pipeline = buildPipeline(dir, { stages: { broken: { kind: 'command', run: 'true', retries: 3 }, after: { kind: 'command', needs: ['broken'], run: 'true' } } });
    const r = await run(pipeline, { executors: withCommand(throwing(calls)) });
    expect(calls.n).toBe(1);
    expect(r.summary).toMatchObject({ status: 'error', exit_code: 70 });
    expect(r.record).toMatchObject({ status: 'error', exit_code: 70 });
    expect(r.stage('broken')).toMatchObject({ status: 'error', reason: 'internal', attempts: 1 });
    expect(r.stage('broken').message).toBe("internal error in the command stage: Cannot read properties of undefined (reading 'text')");
    expect(r.stage('after')).toMatchObject({ status: 'skipped', reason: 'needs' });
    const finished = r.events.of('stage_finished').find((e) => e.stage === 'broken');
    expect(finished).toMatchObject({ status: 'error', reason: 'internal' });
    expect(r.events.of('run_finished')[0]).toMatchObject({ status: 'error', exit_code: 70 });
  });

  test('inside a loop: the loop ends with the same reason and the run exits 70', async () => {
    const dir = tempWorkspace();
    const calls = { n: 0 };
    const pipeline = buildPipeline(dir, { stages: { build: { kind: 'loop', max_iterations: 3, stages: { step: { kind: 'command', run: 'true', retries: 2 } } } } });
    const r = await run(pipeline, { executors: withCommand(throwing(calls)) });
    expect(calls.n).toBe(1);
    expect(r.stage('build')).toMatchObject({ status: 'error', reason: 'internal' });
    expect(r.stage('build').message).toContain('iteration 1: stage "build.step" ended in error (internal): internal error in the command stage');
    expect(r.summary.exit_code).toBe(70);
  });
});
