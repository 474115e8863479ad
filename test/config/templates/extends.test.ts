import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runInProcess } from '../../support/cli.js';

function workspace(files: Record<string, string>): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-templates-')));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const BASE = `version: 1
name: base
params:
  greeting: { type: string, default: hello }
  level: { type: integer, default: 1, enum: [1, 2, 3] }
stages:
  a:
    kind: command
    run: echo a
  b:
    kind: command
    needs: [a]
    env: { GREETING: "\${{ params.greeting }}" }
    run: echo "$GREETING"
  c:
    kind: command
    needs: [b]
    run: echo c
`;

async function planJson(dir: string, file = 'factory.yaml') {
  const r = await runInProcess(['plan', file, '--format', 'json'], dir);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { params: Record<string, unknown>; stages: { path: string; needs: string[]; from: string }[] };
}

describe('extends', () => {
  test('the child overrides a stage, removes one with null, adds its own, and fills params with `with`', async () => {
    const dir = workspace({
      'templates/base.yaml': BASE,
      'factory.yaml': `version: 1
extends: ./templates/base.yaml
with: { greeting: hi, level: 2 }
stages:
  b:
    kind: command
    needs: [a]
    run: echo replaced
  c: null
  d:
    kind: command
    needs: [b]
    run: echo d
`,
    });
    const plan = await planJson(dir);
    expect(plan.stages.map((s) => s.path)).toEqual(['a', 'b', 'd']);
    expect(plan.params).toEqual({ greeting: 'hi', level: 2 });
    expect(plan.stages.find((s) => s.path === 'a')!.from).toBe('templates/base.yaml');
    expect(plan.stages.find((s) => s.path === 'b')!.from).toBe('factory.yaml');
  });

  test('--set wins over `with` for a template param', async () => {
    const dir = workspace({ 'base.yaml': BASE, 'factory.yaml': 'version: 1\nextends: ./base.yaml\nwith: { greeting: hi }\n' });
    const r = await runInProcess(['plan', '--format', 'json', '--set', 'greeting=yo'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).params.greeting).toBe('yo');
  });

  test('a mistake inside a template is reported at the template\'s own line, with the chain that reached it', async () => {
    const dir = workspace({
      'inner.yaml': 'version: 1\nstages:\n  x:\n    kind: command\n    needs: [nope]\n    run: echo x\n',
      'middle.yaml': 'version: 1\nextends: ./inner.yaml\n',
      'factory.yaml': 'version: 1\nextends: ./middle.yaml\n',
    });
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('inner.yaml:5:13 error  stage "nope" in needs of "x" does not exist');
    expect(r.stderr).toMatch(/via factory\.yaml:2:10 extends\n\s+via middle\.yaml:2:10 extends/);
    const json = JSON.parse((await runInProcess(['validate', '--format', 'json'], dir)).stdout);
    expect(json.diagnostics[0]).toMatchObject({ file: 'inner.yaml', line: 5, column: 13, via: ['factory.yaml:2:10 extends', 'middle.yaml:2:10 extends'] });
  });

  test('a cycle of extends is an error that prints the cycle', async () => {
    const dir = workspace({ 'one.yaml': 'version: 1\nextends: ./two.yaml\n', 'two.yaml': 'version: 1\nextends: ./one.yaml\n' });
    const r = await runInProcess(['validate', 'one.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('templates extend each other in a cycle: one.yaml → two.yaml → one.yaml');
  });

  test('a missing template says where it looked and what exists there', async () => {
    const dir = workspace({ 'templates/base.yaml': BASE, 'factory.yaml': 'version: 1\nextends: ./templates/bse.yaml\n' });
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:2:10 error  cannot find the template "./templates/bse.yaml"');
    expect(r.stderr).toContain('base.yaml');
    const builtin = await runInProcess(['validate', 'b.yaml'], workspace({ 'b.yaml': 'version: 1\nextends: builtin:bugfx\n' }));
    expect(builtin.stderr).toContain('(did you mean "bugfix"?)');
    expect(builtin.stderr).toContain('templates there: bugfix, review-only, spec-to-code');
  });

  test('wrong `with` values: unknown param with a suggestion, wrong type, not in the enum', async () => {
    const dir = workspace({ 'base.yaml': BASE, 'factory.yaml': 'version: 1\nextends: ./base.yaml\nwith:\n  greting: x\n  level: high\n' });
    const r = await runInProcess(['validate', '--format', 'json'], dir);
    expect(r.code).toBe(2);
    const diags = JSON.parse(r.stdout).diagnostics as { line: number; code: string; message: string }[];
    expect(diags.map((d) => [d.line, d.code])).toEqual([[4, 'with-unknown-param'], [5, 'with-wrong-value']]);
    expect(diags[0]!.message).toContain('did you mean "greeting"?');
    const enumR = await runInProcess(['validate'], workspace({ 'base.yaml': BASE, 'factory.yaml': 'version: 1\nextends: ./base.yaml\nwith: { level: 7 }\n' }));
    expect(enumR.stderr).toContain('with level: 7 is not one of 1, 2 or 3');
  });

  test('a template from an npm package is found through node_modules, from the folder of the file', async () => {
    const dir = workspace({
      'node_modules/@acme/factory-templates/package.json': '{ "name": "@acme/factory-templates", "version": "1.0.0" }',
      'node_modules/@acme/factory-templates/pipelines/base.yaml': BASE,
      'services/api/factory.yaml': 'version: 1\nextends: npm:@acme/factory-templates/base\n',
    });
    const plan = await planJson(path.join(dir, 'services/api'));
    expect(plan.stages.map((s) => s.path)).toEqual(['a', 'b', 'c']);
    const missing = await runInProcess(['validate'], workspace({ 'factory.yaml': 'version: 1\nextends: npm:@acme/factory-templates/base\n' }));
    expect(missing.stderr).toContain('cannot find the package @acme/factory-templates');
    expect(missing.stderr).toContain('npm install -D @acme/factory-templates');
  });
});

describe('pipeline stages (uses)', () => {
  const GREET = `version: 1
params:
  who: { type: string }
  times: { type: integer, default: 1 }
outputs:
  message: \${{ stages.say.outputs.stdout }}
stages:
  say:
    kind: command
    env: { WHO: "\${{ params.who }}" }
    run: echo "hello $WHO"
  shout:
    kind: command
    needs: [say]
    run: echo done
`;

  test('the template\'s stages appear nested under the calling stage in plan and graph', async () => {
    const dir = workspace({
      'templates/greet.yaml': GREET,
      'factory.yaml': 'version: 1\nstages:\n  prep: { kind: command, run: echo world }\n  greet:\n    kind: pipeline\n    needs: [prep]\n    uses: ./templates/greet.yaml\n    with: { who: "${{ stages.prep.outputs.stdout }}" }\n',
    });
    const plan = await planJson(dir);
    expect(plan.stages.map((s) => s.path)).toEqual(['prep', 'greet', 'greet.say', 'greet.shout']);
    expect(plan.stages.find((s) => s.path === 'greet.say')!.from).toBe('templates/greet.yaml');
    const graph = await runInProcess(['graph', '--format', 'dot'], dir);
    expect(graph.stdout).toContain('label="greet (pipeline)"');
  });

  test('`with` is checked against the template\'s params: unknown, wrong type, a required one missing', async () => {
    const dir = workspace({
      'templates/greet.yaml': GREET,
      'factory.yaml': 'version: 1\nstages:\n  greet:\n    kind: pipeline\n    uses: ./templates/greet.yaml\n    with:\n      whom: x\n      times: many\n',
    });
    const r = await runInProcess(['validate', '--format', 'json'], dir);
    expect(r.code).toBe(2);
    const diags = JSON.parse(r.stdout).diagnostics as { line: number; code: string; message: string }[];
    expect(diags.map((d) => [d.line, d.code])).toEqual([[5, 'with-missing-param'], [7, 'with-unknown-param'], [8, 'with-wrong-value']]);
  });

  test('errors inside a used template point into it, via the uses; a cycle of uses is an error', async () => {
    const dir = workspace({
      'templates/broken.yaml': 'version: 1\nstages:\n  x:\n    kind: command\n    run: echo ${{ params.nope }}\n',
      'factory.yaml': 'version: 1\nstages:\n  call:\n    kind: pipeline\n    uses: ./templates/broken.yaml\n',
    });
    const r = await runInProcess(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('templates/broken.yaml:5:15 error  expressions are not allowed inside `run` of stage "call.x"');
    expect(r.stderr).toContain('via factory.yaml:5:11 uses');
    const cyc = workspace({
      'a.yaml': 'version: 1\nstages:\n  b:\n    kind: pipeline\n    uses: ./b.yaml\n',
      'b.yaml': 'version: 1\nstages:\n  a:\n    kind: pipeline\n    uses: ./a.yaml\n',
    });
    const c = await runInProcess(['validate', 'a.yaml'], cyc);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('templates use each other in a cycle: a.yaml → b.yaml → a.yaml');
  });
});
