/**
 * `validate` warns when a generate stage's allow-listed commands run files its agent may change
 * (docs/configuration.md, generate; issue 13 point 7): through the built CLI, message and position.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

interface Diag {
  file: string;
  line: number;
  column: number;
  severity: string;
  code: string;
  message: string;
  hint?: string;
}

function workspace(files: Record<string, string>): string {
  const dir = tempWorkspace();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** A pipeline whose one generate stage has the given extra keys (YAML lines, indented for the stage). */
const pipeline = (keys: string) => `version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  build:
    kind: generate
    prompt: Make it pass.
${keys}`;

function warnings(dir: string): Diag[] {
  const r = runBuilt(['validate', '--format', 'json'], dir);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { diagnostics: Diag[] }).diagnostics.filter((d) => d.code === 'commands-run-writable-code');
}

const PACKAGE = JSON.stringify({ scripts: { test: 'vitest run', pretest: 'node scripts/setup.mjs' } });

describe('validate: allow-listed commands that run what the agent can change', () => {
  test('`npm test` without `writes`: a warning at the `commands` key naming package.json, the script, the files it runs and the tests', () => {
    const dir = workspace({
      'factory.yaml': pipeline('    commands: ["npm test"]\n'),
      'package.json': PACKAGE,
      'scripts/setup.mjs': '',
      'test/sum.test.js': '',
      'vitest.config.ts': '',
      'src/sum.js': '',
    });
    const [w, ...more] = warnings(dir);
    expect(more).toEqual([]);
    expect(w).toMatchObject({ file: 'factory.yaml', line: 7, column: 5, severity: 'warning' });
    expect(w!.message).toContain('stage "build" allow-lists commands that run code its agent can change');
    expect(w!.message).toContain('`npm test` runs the "test" script (vitest run) and package.json');
    for (const file of ['scripts/setup.mjs', 'test/sum.test.js', 'vitest.config.ts']) expect(w!.message).toContain(file);
    expect(w!.message).not.toContain('src/sum.js');
    expect(w!.message).toContain('this stage has no `writes:`');
    expect(w!.message).toContain('can read .env and the held-out scenarios and write anywhere');
    expect(w!.hint).toBe('give the stage `writes:` globs that leave these files out (e.g. writes: ["src/**"]); factory does not confine the processes it starts, so what they run can do whatever your user can');

    // The text form: the line, the caret under `commands`, the hint; still exit 0.
    const text = runBuilt(['validate'], dir);
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('factory.yaml:7:5 warning  stage "build" allow-lists commands');
    expect(text.stderr).toContain('    7 |     commands: ["npm test"]\n      |     ^^^^^^^^');
  });

  test('`writes` that leave them out (or `deny` that covers them) silence it', () => {
    const files = { 'package.json': PACKAGE, 'scripts/setup.mjs': '', 'test/sum.test.js': '', 'src/sum.js': '' };
    expect(warnings(workspace({ ...files, 'factory.yaml': pipeline('    writes: ["src/**"]\n    commands: ["npm test", "npx vitest *"]\n') }))).toEqual([]);
    expect(warnings(workspace({ ...files, 'factory.yaml': pipeline('    deny: [package.json, scripts, test, node_modules]\n    commands: ["npm test"]\n') }))).toEqual([]);
  });

  test('`writes` that still cover a test file: the warning names that file and the writes', () => {
    const dir = workspace({ 'package.json': PACKAGE, 'test/sum.test.js': '', 'factory.yaml': pipeline('    writes: ["src/**", "test/**"]\n    commands: ["npm test"]\n') });
    const [w] = warnings(dir);
    expect(w!.message).toContain('test/sum.test.js');
    expect(w!.message).not.toContain('package.json,');
    expect(w!.message).toContain('its `writes` (src/**, test/**) let its agent edit them');
    expect(w!.hint).toBe('leave these files out of `writes:`; factory does not confine the processes it starts, so what they run can do whatever your user can');
  });

  test('`node X` and `python X` run that file; a path runs itself', () => {
    const dir = workspace({ 'factory.yaml': pipeline('    writes: ["**/*.js", "**/*.py", "bin/**"]\n    commands: ["node tool.js *", "python3 check.py", "./bin/run.sh", "python3 -m pytest"]\n') });
    const [w] = warnings(dir);
    expect(w!.message).toContain('`node tool.js *` runs tool.js');
    expect(w!.message).toContain('`python3 check.py` runs check.py');
    expect(w!.message).toContain('`./bin/run.sh` runs bin/run.sh');
    expect(w!.message).toContain('`python3 -m pytest` runs the test files (none yet, such as tests/test_example.py)');
  });

  test('a command factory does not know is named when the stage may write anything; inert ones and expressions are not', () => {
    const unknown = warnings(workspace({ 'factory.yaml': pipeline('    commands: ["./gradlew test", "mytool check", "git status", "ls *"]\n') }));
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.message).toContain('`mytool check` may run files of the workspace (factory cannot tell which)');
    expect(unknown[0]!.message).toContain('`./gradlew test` runs gradlew');
    expect(unknown[0]!.message).not.toContain('git status');
    expect(warnings(workspace({ 'factory.yaml': pipeline('    writes: ["src/**"]\n    commands: ["mytool check"]\n') }))).toEqual([]);
    const params = `version: 1
defaults: { model: claude-sonnet-5-5 }
params:
  test_command: { type: string, default: npm test }
stages:
  build:
    kind: generate
    prompt: Make it pass.
    commands: ["\${{ params.test_command }}"]
`;
    expect(warnings(workspace({ 'factory.yaml': params }))).toEqual([]);
  });

  test('inside a loop, the position is the nested stage\'s `commands`', () => {
    const dir = workspace({
      'factory.yaml': `version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  build:
    kind: loop
    max_iterations: 2
    until: \${{ stages.gen.status == 'succeeded' }}
    stages:
      gen:
        kind: generate
        prompt: go
        commands: ["npm test"]
`,
    });
    const [w] = warnings(dir);
    expect(w).toMatchObject({ line: 12, column: 9 });
    expect(w!.message).toContain('stage "build.gen"');
  });
});
