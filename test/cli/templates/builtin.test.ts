/** The built-in templates are read from the installed package's own folder: the built CLI finds them. */
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';
import { workspaceWith } from '../../support/workspace-files.js';

describe('extends builtin:', () => {
  test.each(['spec-to-code', 'bugfix', 'review-only'])('the built-in %s can be extended in five lines and validates', (name) => {
    const dir = workspaceWith('factory-templates-', {
      'factory.yaml': `version: 1\nextends: builtin:${name}\n`,
      'SPEC.md': '# spec\n',
      'BUG.md': '# bug\n',
      'scenarios/one.yaml': 'name: one\nsteps:\n  - run: "true"\n',
    });
    const r = runBuilt(['validate'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const plan = runBuilt(['plan'], dir);
    expect(plan.stdout).toContain(`builtin:${name}`);
  });
});
