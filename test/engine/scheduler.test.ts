import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';

const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });
/** A stage that notes its start and end (ms since epoch) in <id>.times. */
const timed = (id: string, ms: number, extra: Record<string, unknown> = {}) =>
  cmd(`node -e "const fs=require('fs');const s=Date.now();setTimeout(()=>fs.writeFileSync('${id}.times',s+' '+Date.now()),${ms})"`, extra);
const times = (dir: string, id: string) => readFileSync(path.join(dir, `${id}.times`), 'utf8').split(' ').map(Number) as [number, number];

describe('scheduler', () => {
  test('needs order the stages; independent stages run in parallel', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      concurrency: 4,
      stages: { a: timed('a', 50), b: timed('b', 300, { needs: ['a'] }), c: timed('c', 300, { needs: ['a'] }), d: timed('d', 10, { needs: ['b', 'c'] }) },
    }));
    expect(r.summary.exit_code).toBe(0);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => times(dir, id));
    expect(b![0]).toBeGreaterThanOrEqual(a![1]);
    expect(c![0]).toBeGreaterThanOrEqual(a![1]);
    expect(b![0]).toBeLessThan(c![1]); // b and c overlap
    expect(c![0]).toBeLessThan(b![1]);
    expect(d![0]).toBeGreaterThanOrEqual(Math.max(b![1], c![1]));
    expect(Object.keys(r.record.stages)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('the concurrency limit holds', async () => {
    const dir = tempWorkspace();
    // Each stage marks itself running, counts the marks, sleeps, and unmarks.
    const probe = (id: string) => cmd(`touch running.${id}; ls running.* | wc -l >> counts; sleep 0.15; ls running.* | wc -l >> counts; rm running.${id}`);
    const stages = Object.fromEntries(['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => [id, probe(id)]));
    const r = await run(buildPipeline(dir, { concurrency: 2, stages }));
    expect(r.summary.exit_code).toBe(0);
    const counts = readFileSync(path.join(dir, 'counts'), 'utf8').trim().split('\n').map(Number);
    expect(Math.max(...counts)).toBe(2);
  });

  test('if: success() by default, failure(), always(), explicit conditions, and GitHub\'s implicit success()', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      params: { mode: { type: 'string', default: 'full' } },
      stages: {
        ok: cmd('true'),
        bad: cmd('exit 1', { needs: ['ok'] }),
        after_bad: cmd('true', { needs: ['bad'] }),
        chain: cmd('true', { needs: ['after_bad'], if: '${{ always() }}' }),
        downstream: cmd('true', { needs: ['chain'] }),
        on_failure: cmd('true', { needs: ['after_bad'], if: '${{ failure() }}' }),
        no_failure: cmd('true', { needs: ['ok'], if: 'failure()' }),
        cond_true: cmd('true', { needs: ['ok'], if: "${{ params.mode == 'FULL' }}" }),
        cond_false: cmd('true', { needs: ['ok'], if: "${{ params.mode == 'quick' }}" }),
        implicit: cmd('true', { needs: ['bad'], if: "${{ params.mode == 'full' }}" }),
        status_read: cmd('printf "%s" "$S"', { needs: ['bad'], if: 'always()', env: { S: '${{ stages.bad.status }}' } }),
      },
    }));
    expect(r.stage('ok').status).toBe('succeeded');
    expect(r.stage('bad')).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(r.stage('after_bad')).toMatchObject({ status: 'skipped', reason: 'needs', message: 'needs "bad", which failed', attempts: 0, started_at: null });
    expect(r.stage('chain').status).toBe('succeeded');
    // As in GitHub's dependency chains, a failure up the chain is still seen by success().
    expect(r.stage('downstream')).toMatchObject({ status: 'skipped', reason: 'needs' });
    expect(r.stage('on_failure').status).toBe('succeeded');
    expect(r.stage('no_failure')).toMatchObject({ status: 'skipped', reason: 'if' });
    expect(r.stage('cond_true').status).toBe('succeeded');
    expect(r.stage('cond_false')).toMatchObject({ status: 'skipped', reason: 'if' });
    expect(r.stage('implicit')).toMatchObject({ status: 'skipped', reason: 'needs' });
    expect(r.stage('status_read').outputs.stdout).toBe('failed');
    expect(r.summary).toMatchObject({ status: 'failed', exit_code: 1 });
  });

  test('continue_on_error: the failure does not fail the run, and dependants see success', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        lint: cmd('exit 2', { continue_on_error: true }),
        broken: cmd(['./missing'], { continue_on_error: true }),
        build: cmd('true', { needs: ['lint', 'broken'] }),
      },
    }));
    expect(r.stage('lint').status).toBe('failed');
    expect(r.stage('broken').status).toBe('error');
    expect(r.stage('build').status).toBe('succeeded');
    expect(r.summary).toMatchObject({ status: 'succeeded', exit_code: 0 });
  });

  test('after an error, running stages finish and only always()/failure() stages start', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      concurrency: 4,
      stages: {
        broken: cmd(['./missing']),
        slow: cmd('sleep 0.4; echo finished'),
        next: cmd('true', { needs: ['slow'] }),
        cleanup: cmd('true', { needs: ['slow'], if: '${{ always() }}' }),
        report: cmd('true', { needs: ['slow'], if: 'failure() || success()' }),
      },
    }));
    expect(r.stage('broken')).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(r.stage('slow')).toMatchObject({ status: 'succeeded', outputs: { stdout: 'finished\n' } });
    expect(r.stage('next')).toMatchObject({ status: 'skipped', reason: 'needs' });
    expect(r.stage('next').message).toContain('stage "broken" ended in error');
    expect(r.stage('cleanup').status).toBe('succeeded');
    expect(r.stage('report').status).toBe('succeeded');
    expect(r.summary).toMatchObject({ status: 'error', exit_code: 1 });
  });

  test('an `if` that fails to evaluate is an error (expression) naming file:line:col', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { s: cmd('true', { if: "${{ fromJSON('[') }}" }) } }));
    expect(r.stage('s')).toMatchObject({ status: 'error', reason: 'expression' });
    expect(r.stage('s').message).toMatch(/^factory\.yaml:\d+:\d+: /);
  });

  test('contexts: params, env, run and budget', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      params: { n: { type: 'number', default: 3 } },
      env: { E: 'top' },
      budget: { tokens: '2k', cost_usd: 5 },
      stages: {
        s: cmd('printf "%s|" "$P" "$E2" "$ID" "$DIR" "$B"', {
          env: { P: '${{ params.n }}', E2: '${{ env.E }}', ID: '${{ run.id }}', DIR: '${{ run.dir }}', B: '${{ budget }}' },
        }),
      },
    }));
    const [p, e, id, runDir, budget] = (r.stage('s').outputs.stdout as string).split('|');
    expect([p, e, id, runDir]).toEqual(['3', 'top', r.summary.run, r.summary.record]);
    expect(JSON.parse(budget!)).toEqual({ spent_usd: 0, spent_tokens: 0, remaining_usd: 5, remaining_tokens: 2000 });
  });

  test('interrupting the run kills running stages and cancels the rest: exit 130', async () => {
    const dir = tempWorkspace();
    const controller = new AbortController();
    const pending = run(buildPipeline(dir, { stages: { long: cmd('sleep 30'), after: cmd('true', { needs: ['long'] }) } }), { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const r = await pending;
    expect(r.stage('long')).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(r.stage('after')).toMatchObject({ status: 'cancelled', reason: 'cancelled', attempts: 0 });
    expect(r.summary).toMatchObject({ status: 'cancelled', exit_code: 130 });
    expect(r.events.of('run_finished')[0]).toMatchObject({ status: 'cancelled', exit_code: 130 });
  });

  test('events: run_started lists the stages; every stage gets started and finished', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { a: cmd('echo hi'), b: cmd('true', { needs: ['a'] }) } }));
    expect(r.events.of('run_started')[0]).toMatchObject({ name: path.basename(dir), resumed: false, stages: [{ path: 'a', kind: 'command', needs: [] }, { path: 'b', kind: 'command', needs: ['a'] }] });
    expect(r.events.of('stage_output')[0]).toMatchObject({ stage: 'a', stream: 'stdout', chunk: 'hi\n' });
    expect(r.events.of('stage_finished').map((e) => [e.stage, e.status])).toEqual([['a', 'succeeded'], ['b', 'succeeded']]);
    expect(r.events.events.at(-1)).toMatchObject({ type: 'run_finished', status: 'succeeded', exit_code: 0, record: r.summary.record });
  });
});
