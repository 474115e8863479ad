import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { ROOT, runInProcess } from '../support/cli.js';

/** Every runnable example and every built-in template (with the files their globs need). */
function targets(): { name: string; dir: string; file: string }[] {
  const out: { name: string; dir: string; file: string }[] = [];
  const examples = path.join(ROOT, 'examples');
  for (const name of readdirSync(examples)) {
    if (existsSync(path.join(examples, name, 'factory.yaml'))) out.push({ name: `examples/${name}`, dir: path.join(examples, name), file: 'factory.yaml' });
  }
  for (const f of readdirSync(path.join(ROOT, 'pipelines'))) {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-')));
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1\nextends: builtin:${f.replace(/\.yaml$/, '')}\n`);
    writeFileSync(path.join(dir, 'SPEC.md'), '# spec\n');
    mkdirSync(path.join(dir, 'scenarios'));
    writeFileSync(path.join(dir, 'scenarios', 'one.yaml'), 'name: one\nsteps:\n  - run: "true"\n');
    out.push({ name: `builtin:${f}`, dir, file: 'factory.yaml' });
  }
  return out;
}

async function exported(dir: string, to: 'github-actions' | 'argo'): Promise<string> {
  const r = await runInProcess(['export', '--to', to, '-o', '-'], dir);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('export --to github-actions', () => {
  test.each(targets())('$name: GitHub\'s own workflow parser reports no error', async ({ dir }) => {
    const text = await exported(dir, 'github-actions');
    const result = parseWorkflow({ name: 'factory.yml', content: text }, new NoOperationTraceWriter());
    const template = await convertWorkflowTemplate(result.context, result.value!);
    expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
    const pipeline = parse(readFileSync(path.join(dir, 'factory.yaml'), 'utf8')) as { stages?: Record<string, unknown> };
    if (pipeline.stages) for (const id of Object.keys(pipeline.stages)) expect(template.jobs.map((j) => String(j.id.value ?? j.id))).toContain(id);
  });

  test('jobs follow needs and status functions; every job runs one stage with the shared run id; never a bare npx factory', async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-')));
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
name: demo
budget: { wall_time: 30m }
stages:
  build: { kind: command, run: make }
  test: { kind: command, needs: [build], run: make test, timeout: 10m }
  report: { kind: command, needs: [test], if: "\${{ always() }}", run: echo report }
  notify: { kind: command, needs: [test], if: "\${{ failure() }}", run: echo broken }
  gate: { kind: approve, needs: [test], message: Ship it? }
  mixed: { kind: command, needs: [gate], if: "\${{ always() && params.x }}", run: echo, continue_on_error: true }
params: { x: { type: boolean, default: true } }
`);
    const wf = parse(await exported(dir, 'github-actions')) as { jobs: Record<string, Record<string, unknown>>; concurrency: { group: string }; env: Record<string, string> };
    expect(wf.jobs.test!.needs).toEqual(['build']);
    expect(wf.jobs.test!['timeout-minutes']).toBe(10);
    expect(wf.jobs.build!['timeout-minutes']).toBe(30);
    expect(wf.jobs.report!.if).toBe('${{ always() }}');
    expect(wf.jobs.notify!.if).toBe('${{ failure() }}');
    expect(wf.jobs.mixed!.if).toBe('${{ always() }}');
    expect(wf.jobs.mixed!['continue-on-error']).toBe(true);
    expect(wf.jobs.gate!.environment).toEqual({ name: 'factory-gate' });
    expect(wf.jobs.build!.if).toBeUndefined();
    expect(wf.concurrency.group).toContain('github.ref');
    expect(wf.env.FACTORY_RUN_ID).toBe('${{ github.run_id }}-${{ github.run_attempt }}');
    const steps = wf.jobs.test!.steps as { run?: string; uses?: string; env?: Record<string, string> }[];
    const run = steps.find((s) => s.run?.includes('apply'))!;
    expect(run.run).toBe('npx -y -p software-factory@0.1.0 factory apply --only test --run-id "$FACTORY_RUN_ID" --resume');
    expect(run.env).toEqual({ ANTHROPIC_API_KEY: '${{ secrets.ANTHROPIC_API_KEY }}' });
    expect(steps.map((s) => s.uses).filter(Boolean)).toEqual(['actions/checkout@v4', 'actions/setup-node@v4', 'actions/download-artifact@v4', 'actions/upload-artifact@v4']);
    const gate = (wf.jobs.gate!.steps as { run?: string }[]).find((s) => s.run?.includes('apply'))!;
    expect(gate.run).toContain('--approve gate');
  });

  test('a repository that depends on software-factory runs its own copy after npm ci', async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-')));
    mkdirSync(path.join(dir, '.git'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', devDependencies: { 'software-factory': '^0.1.0' } }));
    writeFileSync(path.join(dir, 'package-lock.json'), '{}');
    mkdirSync(path.join(dir, 'ci'));
    writeFileSync(path.join(dir, 'ci', 'factory.yaml'), 'version: 1\nstages:\n  a: { kind: command, run: echo }\n');
    const wf = parse(await exported(path.join(dir, 'ci'), 'github-actions')) as { jobs: Record<string, { steps: { run?: string }[]; defaults: unknown }> };
    const steps = wf.jobs.a!.steps;
    expect(steps.some((s) => s.run === 'npm ci')).toBe(true);
    expect(steps.find((s) => s.run?.includes('apply'))!.run).toMatch(/^npx --no-install factory apply/);
    expect(wf.jobs.a!.defaults).toEqual({ run: { 'working-directory': 'ci' } });
    const written = await runInProcess(['export', '--to', 'github-actions', 'ci'], dir);
    expect(written.stdout).toContain('wrote .github/workflows/factory.yml');
    expect(existsSync(path.join(dir, '.github', 'workflows', 'factory.yml'))).toBe(true);
  });

  test('a stage that cannot be distributed is an error naming the stage and why', async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-')));
    writeFileSync(path.join(dir, 'factory.yaml'), 'version: 1\nstages:\n  gate:\n    kind: approve\n    message: ok?\n    timeout: 1h\n    on_timeout: approve\n  spend:\n    kind: command\n    run: echo\n    budget: { tokens: 10k, on_exhausted: ask }\n');
    const r = await runInProcess(['export', '--to', 'github-actions', '-o', '-'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:3:3 error  stage "gate" cannot be exported to github-actions: an approve stage with `on_timeout: approve`');
    expect(r.stderr).toContain('stage "spend" cannot be exported to github-actions: `budget.on_exhausted: ask`');
    const argo = await runInProcess(['export', '--to', 'argo', '-o', '-'], dir);
    expect(argo.stderr).not.toContain('stage "gate"');
  });
});

describe('export --to argo', () => {
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'vendor', 'argo-workflows.schema.json'), 'utf8')) as Record<string, unknown>;
  // Argo's published schema uses draft-07 `definitions` and x-kubernetes-* extensions: a separate,
  // non-strict draft-07 instance (see test/fixtures/vendor/README.md).
  // Its `$schema` line claims 2020-12, which a draft-07 instance does not know: leave it out.
  const { $schema: _claimed, ...draft7 } = schema;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
  ajv.addSchema(draft7);
  const validateWorkflow = ajv.getSchema(`${String(schema.$id)}#/definitions/io.argoproj.workflow.v1alpha1.Workflow`)!;

  test.each(targets())('$name: Argo\'s JSON Schema for Workflow accepts it', async ({ dir }) => {
    const wf = parse(await exported(dir, 'argo'));
    const ok = validateWorkflow(wf);
    expect(validateWorkflow.errors ?? [], JSON.stringify(validateWorkflow.errors?.slice(0, 3), null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  test('one task per stage after the checkout, depends from needs and status functions, approve as suspend, the deadline from wall_time', async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-')));
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1
name: Demo_Pipeline
budget: { wall_time: 45m }
stages:
  build: { kind: command, run: make }
  test_all: { kind: command, needs: [build], run: make test }
  report: { kind: command, needs: [test_all], if: "\${{ always() }}", run: echo }
  notify: { kind: command, needs: [test_all, build], if: "\${{ failure() }}", run: echo }
  gate: { kind: approve, needs: [test_all], message: Ship it?, timeout: 2h }
`);
    const r = await runInProcess(['export', '--to', 'argo', '-o', '-', '--secret-name', 'llm', '--secret-key', 'token'], dir);
    const wf = parse(r.stdout) as { metadata: { generateName: string }; spec: { activeDeadlineSeconds: number; templates: { name: string; dag?: { tasks: { name: string; depends: string; template: string }[] }; container?: { env: unknown[]; args: string[] }; suspend?: unknown; activeDeadlineSeconds?: number }[] } };
    expect(wf.metadata.generateName).toBe('factory-demo-pipeline-');
    expect(wf.spec.activeDeadlineSeconds).toBe(2700);
    const tasks = wf.spec.templates.find((t) => t.name === 'pipeline')!.dag!.tasks;
    const byName = Object.fromEntries(tasks.map((t) => [t.name, t]));
    expect(Object.keys(byName)).toEqual(['checkout', 'build', 'test-all', 'report', 'notify', 'gate']);
    expect(byName.build!.depends).toBe('checkout');
    expect(byName['test-all']!.depends).toBe('build.Succeeded');
    expect(byName.report!.depends).toBe('(test-all.Succeeded || test-all.Failed || test-all.Errored || test-all.Skipped || test-all.Omitted)');
    expect(byName.notify!.depends).toBe('(test-all.Failed || test-all.Errored || build.Failed || build.Errored)');
    expect(byName.gate!.template).toBe('approve-gate');
    const wait = wf.spec.templates.find((t) => t.name === 'wait-gate')!;
    expect(wait.suspend).toEqual({});
    expect(wait.activeDeadlineSeconds).toBe(7200);
    const stage = wf.spec.templates.find((t) => t.name === 'stage')!;
    expect(stage.container!.env).toContainEqual({ name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'llm', key: 'token' } } });
    expect(stage.container!.args[0]).toContain('apply --only "{{inputs.parameters.stage}}" --run-id "{{workflow.name}}" --resume');
  });
});
