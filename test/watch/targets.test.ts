import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/config/index.js';
import { watchTargets } from '../../src/watch/targets.js';
import { workspaceWith } from '../support/workspace-files.js';

function targetsOf(yaml: string): string[] {
  const dir = workspaceWith('factory-watch-targets-', { 'factory.yaml': yaml });
  const loaded = loadPipeline(dir, { cwd: dir, forRun: false });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  return [...watchTargets(loaded.pipeline, { file: loaded.file, templates: loaded.templates, cwd: dir }).globs];
}

describe('what apply --watch watches', () => {
  it('the learnings folder, when a stage reads learnings (a learning written by hand reruns its readers)', () => {
    const stage = (learnings: string) => `version: 1\nlearnings: { dir: notes/ }\nstages:\n  p: { kind: plan, model: claude-sonnet-5-5, prompt: hi${learnings} }\n`;
    expect(targetsOf(stage(', learnings: true'))).toContain('notes/*.md');
    expect(targetsOf(stage(''))).not.toContain('notes/*.md');
  });
});
