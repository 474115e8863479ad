import { existsSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';

/**
 * An approve stage inside a loop (or a called template) would run inside that stage's one job
 * and wait for an answer nobody can give: export refuses it, naming the stage and why (exit 2),
 * and writes nothing.
 */

function workspace(files: Record<string, string>): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-export-approve-')));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const LOOP =
  'version: 1\nstages:\n  build:\n    kind: loop\n    max_iterations: 3\n    until: ${{ stages.gate.outputs.approved }}\n    stages:\n' +
  '      work: { kind: command, run: "true" }\n      gate:\n        kind: approve\n        needs: [work]\n        message: good enough?\n';

describe('export refuses an approve stage it cannot turn into a gate', () => {
  for (const [to, written] of [['github-actions', '.github/workflows/factory.yml'], ['argo', 'factory.argo.yaml']] as const) {
    test(`inside a loop, --to ${to}: an error at the stage, exit 2, nothing written`, () => {
      const dir = workspace({ 'factory.yaml': LOOP });
      const r = runBuilt(['export', '--to', to], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`factory.yaml:9:7 error  stage "build.gate" cannot be exported to ${to}: an approve stage inside the loop "build" runs within that stage's one job, where it would wait for an answer nobody can give`);
      expect(r.stderr).toContain('move the gate to the top level');
      expect(existsSync(path.join(dir, written))).toBe(false);
    });
  }

  test("inside a template called with uses: the error points at the template's line", () => {
    const dir = workspace({
      'gated.yaml': 'version: 1\nstages:\n  check:\n    kind: approve\n    message: ship it?\n',
      'factory.yaml': 'version: 1\nstages:\n  release: { kind: pipeline, uses: ./gated.yaml }\n',
    });
    const r = runBuilt(['export', '--to', 'argo', '-o', '-'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('gated.yaml:3:3 error  stage "release.check" cannot be exported to argo: an approve stage inside the pipeline "release"');
    expect(r.stdout).toBe('');
  });

  test('a top-level approve stage is still exported as a gate', () => {
    const dir = workspace({ 'factory.yaml': 'version: 1\nstages:\n  work: { kind: command, run: "true" }\n  gate: { kind: approve, needs: [work], message: ok? }\n' });
    const r = runBuilt(['export', '--to', 'github-actions', '-o', '-'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('environment:');
  });
});
