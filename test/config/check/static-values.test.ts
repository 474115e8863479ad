/**
 * Typed keys written as one expression over params (src/config/static-values.ts): worked out
 * before the run from defaults, `--set` and literal `with`, in a file, through `extends` and
 * through `uses`; refused where the value would be known only at run time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadPipeline } from '../../../src/config/index.js';
import { runInProcess } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

function workspace(files: Record<string, string>): string {
  const dir = tempWorkspace('factory-static-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const TEMPLATE = `version: 1
name: rounds
params:
  rounds: { type: integer, default: 2 }
  strict: { type: boolean, default: false }
concurrency: \${{ params.rounds }}
stages:
  build:
    kind: loop
    max_iterations: \${{ params.rounds }}
    continue_on_error: \${{ !params.strict }}
    stages:
      step: { kind: command, run: ["true"], retries: "\${{ params.rounds }}" }
`;

function loop(dir: string, set: string[] = []) {
  const r = loadPipeline('factory.yaml', { cwd: dir, set, forRun: true });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`).join('\n'));
  const build = r.pipeline.root.byId.get('build')!;
  return { max: (build.def as { max_iterations: unknown }).max_iterations, continueOnError: build.continueOnError, concurrency: r.pipeline.concurrency, retries: build.body!.byId.get('step')!.retries };
}

describe('typed keys as expressions over params', () => {
  test('take their type from the param: defaults, then --set', () => {
    const dir = workspace({ 'factory.yaml': TEMPLATE });
    expect(loop(dir)).toEqual({ max: 2, continueOnError: true, concurrency: 2, retries: 2 });
    expect(loop(dir, ['rounds=5', 'strict=true'])).toEqual({ max: 5, continueOnError: false, concurrency: 5, retries: 5 });
  });

  test('through extends with `with`, and through uses with a literal `with`', () => {
    const dir = workspace({
      'templates/rounds.yaml': TEMPLATE,
      'factory.yaml': 'version: 1\nextends: ./templates/rounds.yaml\nwith: { rounds: 4 }\n',
      'caller.yaml': 'version: 1\nstages:\n  call:\n    kind: pipeline\n    uses: ./templates/rounds.yaml\n    with: { rounds: 3 }\n',
    });
    expect(loop(dir).max).toBe(4);
    const called = loadPipeline('caller.yaml', { cwd: dir, forRun: true });
    expect(called.ok).toBe(true);
    if (!called.ok) return;
    const template = called.pipeline.root.byId.get('call')!.template!.pipeline;
    expect((template.root.byId.get('build')!.def as { max_iterations: unknown }).max_iterations).toBe(3);
  });

  test('a `with` known only at run time cannot feed one: the error points into the template, via the uses', async () => {
    const dir = workspace({
      'templates/rounds.yaml': TEMPLATE,
      'factory.yaml': 'version: 1\nstages:\n  n: { kind: command, run: echo 3, parse: json }\n  call:\n    kind: pipeline\n    needs: [n]\n    uses: ./templates/rounds.yaml\n    with: { rounds: "${{ stages.n.outputs.json }}" }\n',
    });
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('templates/rounds.yaml:6:14 error  concurrency reads param "rounds", whose value (an expression in `with`) is known only at run time');
    expect(r.stderr).toContain('templates/rounds.yaml:10:21 error  max_iterations reads param "rounds"');
    expect(r.stderr).toContain('via factory.yaml:7:11 uses');
  });

  test('durations and budgets too: written out as if literal, then checked like one', async () => {
    const yaml = `version: 1
params:
  max_cost: { type: number, default: 5 }
  wall: { type: string, default: 30m }
  step_timeout: { type: string, default: 90s }
  tokens: { type: string, default: 2M }
budget:
  cost_usd: \${{ params.max_cost }}
  wall_time: \${{ params.wall }}
  tokens: \${{ params.tokens }}
watch: { debounce: "\${{ params.step_timeout }}" }
stages:
  build:
    kind: command
    run: make
    timeout: \${{ params.step_timeout }}
`;
    const dir = workspace({ 'factory.yaml': yaml });
    const r = loadPipeline('factory.yaml', { cwd: dir, forRun: true });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.pipeline.config.budget).toEqual({ cost_usd: 5, wall_time: '30m', tokens: '2M' });
    expect(r.pipeline.root.byId.get('build')!.timeoutMs).toBe(90_000);
    // A param of the wrong type, and a value that is no duration once written out.
    const wrong = await runInProcess(['validate', '--set', 'wall=5 minutes', '--format', 'json'], workspace({ 'factory.yaml': yaml.replace('tokens: ${{ params.tokens }}', 'tokens: ${{ params.max_cost > 1 }}') }));
    expect(wrong.code).toBe(2);
    const diags = (JSON.parse(wrong.stdout) as { diagnostics: { line: number; code: string; message: string }[] }).diagnostics;
    expect(diags.map((d) => [d.line, d.code])).toEqual([[9, 'bad-duration'], [10, 'static-value']]);
    expect(diags[1]!.message).toContain('tokens: ${{ params.max_cost > 1 }} is true, not a token count');
  });

  test('a stage id such as __proto__ is only reported, never written through', async () => {
    const dir = workspace({ 'factory.yaml': 'version: 1\nparams:\n  n: { type: integer, default: 2 }\nstages:\n  __proto__:\n    kind: loop\n    max_iterations: ${{ params.n }}\n    stages:\n      a: { kind: command, run: "true" }\n' });
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"__proto__" is not a valid id');
    expect(({} as Record<string, unknown>).max_iterations).toBeUndefined();
  });

  test('validate passes without a required param; plan and apply use its value', async () => {
    const dir = workspace({ 'factory.yaml': TEMPLATE.replace('rounds: { type: integer, default: 2 }', 'rounds: { type: integer }') });
    expect((await runInProcess(['validate'], dir)).code).toBe(0);
    const plan = await runInProcess(['plan', '--set', 'rounds=3', '--format', 'json'], dir);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).concurrency).toBe(3);
    const apply = await runInProcess(['apply', '--set', 'rounds=1', '--quiet'], dir);
    expect(apply.code, apply.stderr).toBe(0);
    const missing = await runInProcess(['plan'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('param "rounds" has no default and was not given');
  });
});
