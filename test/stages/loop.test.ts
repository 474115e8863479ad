import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadRun } from '../../src/records/read.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';

const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });
/** Counts its runs in `count`, prints the count, and passes from the `passAt`th run on. */
const counter = (passAt: number) => cmd(`n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; echo "run $n"; [ $n -ge ${passAt} ]`);

describe('loop', () => {
  test('converges in the 2nd iteration: loop.iteration, loop.previous, outputs, per-iteration records', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        build: {
          kind: 'loop',
          max_iterations: 4,
          until: '${{ stages.check.outputs.exit_code == 0 }}',
          stages: {
            note: cmd('echo "it=$IT prev=$PREV prevstatus=$PS" >> notes', { env: { IT: '${{ loop.iteration }}', PREV: '${{ loop.previous.check.outputs.stdout }}', PS: '${{ loop.previous.check.status }}' } }),
            check: { ...counter(2), needs: ['note'] },
            after: cmd('true', { needs: ['check'], if: '${{ always() }}' }),
          },
        },
        report: cmd('echo "$C $I $S" > report', { needs: ['build'], env: { C: '${{ stages.build.outputs.converged }}', I: '${{ stages.build.outputs.iterations }}', S: '${{ stages.build.outputs.stages.check.status }}' } }),
      },
    }));
    expect(r.summary.exit_code).toBe(0);
    expect(r.stage('build')).toMatchObject({ status: 'succeeded', outputs: { iterations: 2, converged: true } });
    expect(readFileSync(path.join(dir, 'notes'), 'utf8')).toBe('it=1 prev= prevstatus=\nit=2 prev=run 1\n prevstatus=failed\n');
    expect(readFileSync(path.join(dir, 'report'), 'utf8')).toBe('true 2 succeeded\n');
    const its = r.stage('build').iterations!;
    expect(its.map((i) => i.iteration)).toEqual([1, 2]);
    expect(its[0]!.stages['build.check']).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(its[1]!.stages['build.check']).toMatchObject({ status: 'succeeded' });
    expect(Object.keys(r.record.stages)).toEqual(['build', 'report']);
    const files = readdirSync(path.join(r.summary.record, 'stages'));
    // Each iteration's output in its own log; the stages' states are in the journal, not in files.
    expect(files).toEqual(expect.arrayContaining(['build.check@1.stdout', 'build.check@2.stdout']));
    expect(files.filter((f) => f.endsWith('.json'))).toEqual([]);
    // events carry the iteration; run_started announces the body with max_iterations
    const started = r.events.of('run_started')[0]!;
    expect(started.stages.find((s) => s.path === 'build')).toMatchObject({ max_iterations: 4 });
    expect(started.stages.map((s) => s.path)).toContain('build.check');
    expect(r.events.of('stage_finished').filter((e) => e.stage === 'build.check').map((e) => e.iteration)).toEqual([1, 2]);
    // read back from the files, as `factory show` does
    const loaded = loadRun(dir, r.summary.run);
    expect(loaded.ok && loaded.record.stages.build!.iterations!.length).toBe(2);
  });

  test('no convergence after max_iterations: failed, not_converged, exit 1', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: { build: { kind: 'loop', max_iterations: 3, until: 'stages.check.outputs.exit_code == 0', stages: { check: counter(99) } } },
    }));
    expect(r.summary.exit_code).toBe(1);
    expect(r.stage('build')).toMatchObject({ status: 'failed', reason: 'not_converged', outputs: { iterations: 3, converged: false } });
    expect(r.stage('build').iterations).toHaveLength(3);
    expect(r.record.status).toBe('failed');
  });

  test('without until, a loop repeats until its body succeeds', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { build: { kind: 'loop', max_iterations: 5, stages: { check: counter(3) } } } }));
    expect(r.stage('build')).toMatchObject({ status: 'succeeded', outputs: { iterations: 3 } });
  });

  test('an error in the body ends the loop with that error; later stages do not start', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        build: {
          kind: 'loop',
          max_iterations: 4,
          until: 'false',
          stages: { first: counter(99), broken: cmd(['./no-such-program'], { needs: ['first'], if: 'always()' }) },
        },
        after: cmd('true', { needs: ['build'] }),
      },
    }));
    expect(r.summary.exit_code).toBe(1);
    expect(r.stage('build')).toMatchObject({ status: 'error', reason: 'spawn', outputs: { iterations: 1, converged: false } });
    expect(r.stage('build').message).toContain('iteration 1: stage "build.broken" ended in error');
    expect(r.stage('build').iterations).toHaveLength(1);
    expect(r.stage('after').status).toBe('skipped');
  });

  test('a failed body stage with continue_on_error and a body error with continue_on_error are feedback', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        build: {
          kind: 'loop',
          max_iterations: 2,
          until: 'stages.check.outputs.exit_code == 0',
          stages: { broken: cmd(['./no-such-program'], { continue_on_error: true }), check: { ...counter(2), needs: ['broken'] } },
        },
      },
    }));
    expect(r.stage('build')).toMatchObject({ status: 'succeeded', outputs: { iterations: 2 } });
  });

  test('a body holds slots, the loop does not: concurrency 1 still runs a loop', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      concurrency: 1,
      stages: { build: { kind: 'loop', max_iterations: 2, stages: { a: cmd('true'), b: cmd('true') } }, other: cmd('true') },
    }), {});
    expect(r.summary.exit_code).toBe(0);
  });

  test('a bad until at run time is an error with reason expression', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: { build: { kind: 'loop', max_iterations: 2, until: "${{ fromJSON('not json') }}", stages: { a: cmd('true') } } },
    }));
    expect(r.stage('build')).toMatchObject({ status: 'error', reason: 'expression' });
    expect(r.stage('build').message).toMatch(/factory\.yaml:\d+:\d+/);
  });

  test('interrupted mid-iteration: cancelled, the process killed, exit 130; resume reruns the loop from iteration 1', async () => {
    const dir = tempWorkspace();
    const pipeline = buildPipeline(dir, {
      stages: {
        build: {
          kind: 'loop',
          max_iterations: 3,
          until: 'stages.check.outputs.exit_code == 0',
          stages: { check: counter(2), slow: cmd('if [ -f go ]; then exit 0; fi; touch started; sleep 30', { needs: ['check'], if: 'always()' }) },
        },
      },
    });
    const controller = new AbortController();
    const watcher = setInterval(() => {
      if (existsSync(path.join(dir, 'started'))) controller.abort();
    }, 20);
    const first = await run(pipeline, { signal: controller.signal });
    clearInterval(watcher);
    expect(first.summary.exit_code).toBe(130);
    expect(first.stage('build').status).toBe('cancelled');
    const cancelledBody = first.stage('build').iterations!.at(-1)!.stages['build.slow'];
    expect(cancelledBody?.status).toBe('cancelled');

    // resume: the loop did not succeed, so it runs again from iteration 1 (its old iterations go)
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'go'), '');
    const second = await run(pipeline, { resume: true });
    expect(second.summary.exit_code).toBe(0);
    expect(second.summary.run).toBe(first.summary.run);
    expect(second.stage('build')).toMatchObject({ status: 'succeeded', outputs: { iterations: 1 } });
    expect(second.stage('build').iterations!.map((i) => i.iteration)).toEqual([1]);
  });

  test('the loop timeout ends it with error timeout', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: { build: { kind: 'loop', max_iterations: 3, timeout: '300ms', stages: { slow: cmd('sleep 20') } } },
    }));
    expect(r.stage('build')).toMatchObject({ status: 'error', reason: 'timeout' });
    expect(r.stage('build').iterations![0]!.stages['build.slow']!.status).toBe('cancelled');
  });
});
