import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { alive, run } from '../support/run-helpers.js';
import { validate, writeScenarios } from './helpers.js';

const passing = {
  name: 'converts 1994',
  description: 'The classic subtractive case.',
  steps: [
    { run: 'echo MCMXCIV; echo oops >&2', expect: { exit_code: 0, stdout_contains: ['MCM', 'XCIV'], stdout_matches: '^M+C', stderr_contains: 'oops', stderr_matches: 'o{2}' } },
    { run: ['sh', '-c', 'echo data > out.txt'], expect: { file_exists: 'out.txt', file_contains: { path: 'out.txt', text: 'data' } } },
  ],
};
const failing = {
  name: 'rejects negatives',
  description: 'Negative numbers are refused.',
  steps: [{ run: 'echo -5 is fine', expect: { exit_code: 2, stderr_matches: 'positive' } }],
};

describe('scenario-validate', () => {
  test('every expect key; satisfaction; threshold; failed with reason threshold; feedback names by default', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [passing, failing]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate() } }));
    expect(r.summary.exit_code).toBe(1);
    const v = r.stage('validate');
    expect(v).toMatchObject({ status: 'failed', reason: 'threshold' });
    expect(v.outputs).toMatchObject({ satisfaction: 0.5, passed: false, spread: 0 });
    // names: failed scenarios only, their name and description, no failures
    expect(v.outputs.results).toEqual([{ name: 'rejects negatives', description: 'Negative numbers are refused.', passed: false, failures: [], runs_passed: 0 }]);
    const feedback = v.outputs.feedback as string;
    expect(feedback).toContain('rejects negatives: Negative numbers are refused.');
    expect(feedback).not.toContain('converts 1994');
    expect(feedback).not.toContain('echo');
    expect(feedback).not.toContain('positive');
    expect(v.message).toContain('below the threshold 1.00');
    // per-scenario transcripts in the record
    const saved = JSON.parse(readFileSync(path.join(r.summary.record, 'stages', 'validate.scenarios.json'), 'utf8'));
    expect(saved.scenarios.map((s: { name: string }) => s.name)).toEqual(['converts 1994', 'rejects negatives']);
    expect(saved.scenarios[0].runs[0].steps[0]).toMatchObject({ command: 'echo MCMXCIV; echo oops >&2', exit_code: 0, stdout: 'MCMXCIV\n' });
  });

  test('feedback none reveals only satisfaction, passed and spread', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [passing, failing]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ feedback: 'none' }) } }));
    const v = r.stage('validate');
    expect(v.outputs.results).toEqual([]);
    expect(v.outputs.feedback).toBe('Held-out scenarios did not pass: satisfaction 0.50 (threshold 1.00).');
    expect(JSON.stringify(v.outputs)).not.toContain('negatives');
    expect(v.message).not.toContain('negatives');
  });

  test('feedback full: per failure the command, the expectation and an excerpt of the output', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [passing, failing]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ feedback: 'full' }) } }));
    const v = r.stage('validate');
    const results = v.outputs.results as { name: string; passed: boolean; failures: { step: string; command: string; expectation: string; actual: string }[] }[];
    expect(results.map((x) => [x.name, x.passed])).toEqual([['converts 1994', true], ['rejects negatives', false]]);
    expect(results[1]!.failures).toEqual([
      { step: 'step 1', command: 'echo -5 is fine', expectation: 'exit_code: 2', actual: 'exit code 0; stderr: (empty)' },
      { step: 'step 1', command: 'echo -5 is fine', expectation: 'stderr_matches: /positive/', actual: 'stderr: (empty)' },
    ]);
    expect(v.outputs.feedback).toContain('step 1 `echo -5 is fine`: expected exit_code: 2; got exit code 0');
  });

  test('threshold below 1 passes; weights count; setup failure fails the scenario', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [{ ...passing, weight: 3 }, { ...failing, setup: ['exit 4'] }]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ threshold: 0.7, feedback: 'full' }) } }));
    const v = r.stage('validate');
    expect(v).toMatchObject({ status: 'succeeded', outputs: { satisfaction: 0.75, passed: true } });
    const results = v.outputs.results as { failures: { step: string }[] }[];
    expect(results[1]!.failures.map((f) => f.step)).toEqual(['setup 1']);
    expect(v.message).toBe('satisfaction 0.75: 1 of 2 scenarios passed');
  });

  test('runs: each run counts its share of the weight; spread says how much the runs disagreed', async () => {
    const dir = tempWorkspace();
    // passes on every other run
    const flaky = { name: 'flaky', steps: [{ run: 'n=$(( $(cat n 2>/dev/null || echo 0) + 1 )); echo $n > n; [ $((n % 2)) -eq 1 ]', expect: { exit_code: 0 } }] };
    writeScenarios(dir, [passing, flaky]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ runs: 2, threshold: 0.5 }) } }));
    const v = r.stage('validate');
    expect(v.outputs).toMatchObject({ satisfaction: 0.75, passed: true, spread: 1 });
    expect(v.outputs.results).toEqual([{ name: 'flaky', passed: false, failures: [], runs_passed: 1 }]);
  });

  test('a hanging step: the scenario fails with reason timeout, its process tree is killed, the stage goes on', async () => {
    const dir = tempWorkspace();
    const hanging = { name: 'hangs', steps: [{ run: 'sleep 30 & echo $! > child.pid; wait', timeout: '300ms', expect: { exit_code: 0 } }, { run: 'touch never' }] };
    writeScenarios(dir, [hanging, passing]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ feedback: 'full' }) } }));
    const v = r.stage('validate');
    expect(v).toMatchObject({ status: 'failed', reason: 'threshold', outputs: { satisfaction: 0.5 } });
    const failures = (v.outputs.results as { failures: { reason?: string; expectation: string }[] }[])[0]!.failures;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ reason: 'timeout', expectation: 'finishes within its time limit' });
    const pid = Number(readFileSync(path.join(dir, 'child.pid'), 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(pid)).toBe(false);
    expect(() => readFileSync(path.join(dir, 'never'))).toThrow();
  });

  test("the stage's timeout limits each scenario, not the stage", async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [{ name: 'slow', steps: [{ run: 'sleep 20' }] }, { name: 'slow too', steps: [{ run: 'sleep 20' }] }, passing]);
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ timeout: '250ms', threshold: 0.3 }) } }));
    expect(r.stage('validate')).toMatchObject({ status: 'succeeded', outputs: { satisfaction: 0.333333 } });
  });

  test('a scenario file that became malformed after validate: error, reason config, naming file:line:col', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [passing]);
    writeFileSync(path.join(dir, 'scenarios', '02.yaml'), 'name: broken\nstpes:\n  - run: true\n');
    const r = await run(buildPipeline(dir, { stages: { validate: validate() } }));
    expect(r.summary.exit_code).toBe(2);
    const v = r.stage('validate');
    expect(v).toMatchObject({ status: 'error', reason: 'config' });
    expect(v.message).toMatch(/scenarios\/02\.yaml:\d+:\d+/);
  });

  test('a scenario glob matching nothing at run time is an error (validate refuses it before)', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { validate: validate({ scenarios: 'holdout/*.yaml' }) } }));
    expect(r.stage('validate')).toMatchObject({ status: 'error', reason: 'config' });
    expect(r.stage('validate').message).toContain('"holdout/*.yaml" matches no file');
  });

  test('steps run with the pipeline env, in the workspace', async () => {
    const dir = tempWorkspace();
    writeScenarios(dir, [{ name: 'env', steps: [{ run: 'echo "$GREETING from $(pwd)"', expect: { stdout_contains: `hello from ${dir}` } }] }]);
    const r = await run(buildPipeline(dir, { env: { GREETING: 'hello' }, stages: { validate: validate() } }));
    expect(r.stage('validate').status).toBe('succeeded');
  });
});
