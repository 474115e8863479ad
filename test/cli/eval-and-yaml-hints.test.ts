import { beforeAll, describe, expect, test } from 'vitest';
import { requireBuild, runBuilt } from '../support/cli.js';
import { workspaceWith } from '../support/workspace-files.js';

beforeAll(requireBuild);

describe('factory eval', () => {
  test('accepts the expression wrapped in ${{ }}, as written in factory.yaml', () => {
    const dir = workspaceWith('factory-eval-', {});
    const wrapped = runBuilt(['eval', '${{ 1 == 1 }}'], dir);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    expect(wrapped.stdout).toBe('true\n');
    const bare = runBuilt(['eval', "params.env != 'prod'", '--context', '{"params":{"env":"dev"}}'], dir);
    expect(bare.stdout).toBe('true\n');
    const context = runBuilt(['eval', '${{ params.n > 1 }}', '--context', '{"params":{"n":2}}'], dir);
    expect(context.stdout).toBe('true\n');
  });

  test('an error inside the wrapper points into what was typed; text around it is named', () => {
    const dir = workspaceWith('factory-eval-', {});
    const broken = runBuilt(['eval', '${{ 1 == }}'], dir);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('    1 | ${{ 1 == }}\n');
    const around = runBuilt(['eval', 'n = ${{ 1 }}'], dir);
    expect(around.code).toBe(2);
    expect(around.stderr).toContain("hint: eval takes one expression, e.g. '1 == 1' or '${{ 1 == 1 }}'; text around ${{ }} is not part of it");
  });
});

describe('a YAML indentation slip', () => {
  test('one extra space before `needs:` gets a hint that names indentation', () => {
    const yaml = 'version: 1\nname: slip\nstages:\n  a:\n    kind: command\n    run: echo a\n  b:\n    kind: command\n     needs: [a]\n    run: echo b\n';
    const dir = workspaceWith('factory-yaml-', { 'factory.yaml': yaml });
    const r = runBuilt(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('hint: check the indentation: `needs:` on line 9 is indented 1 space more than `kind:` above it; keys of one mapping start at the same column');
    expect(r.stderr).not.toContain('missing its colon');
  });
});
