import { describe, expect, test } from 'vitest';
import { runInProcess } from '../../support/cli.js';
import { workspace } from '../models/helpers.js';

// Bad fan-out input (section 13): each a message at its file:line:col with the fix, exit 2.
const stage = (body: string, kind = 'command\n    run: echo hi') => `version: 1
stages:
  list:
    kind: command
    run: echo '[]'
    parse: json
  attempt:
    kind: ${kind}
    needs: [list]
${body}`;

const big = Array.from({ length: 17 }, (_, i) => i).join(', ');

const CASES: { name: string; yaml: string; where: string; message: string; hint: string }[] = [
  { name: 'a matrix over 256 instances', yaml: stage(`    matrix: { a: [${big}], b: [${big}] }\n`), where: 'factory.yaml:11:5', message: 'stage "attempt": the matrix gives 289 instances, more than 256', hint: 'split the stage' },
  { name: 'an empty matrix list', yaml: stage('    matrix:\n      approach: []\n'), where: 'factory.yaml:12:17', message: 'matrix.approach is an empty list', hint: 'give it at least one value' },
  { name: 'matrix with for_each', yaml: stage('    matrix: { a: [1] }\n    for_each: ${{ stages.list.outputs.json }}\n    max_items: 3\n'), where: 'factory.yaml:12:5', message: 'has both `matrix` and `for_each`', hint: 'keep one' },
  { name: 'for_each without max_items', yaml: stage('    for_each: ${{ stages.list.outputs.json }}\n'), where: 'factory.yaml:11:5', message: 'has `for_each` without `max_items`', hint: 'add `max_items: N`' },
  { name: 'pick on a stage without fan-out', yaml: stage('    join: { pick: "${{ instance.index }}" }\n'), where: 'factory.yaml:11:5', message: 'has `join` but runs once', hint: 'add `matrix:` or `for_each:`' },
  { name: 'a misspelt matrix key', yaml: stage('    matrix: { approach: [a] }\n    env: { A: "${{ matrix.aproach }}" }\n'), where: 'factory.yaml:12:27', message: 'matrix has no "aproach" (did you mean "approach"?)', hint: 'matrix provides: approach' },
  { name: 'each outside a for_each stage', yaml: stage('    env: { A: "${{ each.item }}" }\n'), where: 'factory.yaml:11:20', message: 'context "each" is not available here; it exists only in a stage with `for_each` and its body', hint: 'available here' },
  { name: 'a provider chosen by an expression on a stage that runs once', yaml: stage('    provider: ${{ matrix.provider }}\n    prompt: Plan.\n', 'plan'), where: 'factory.yaml:10:15', message: 'stage "attempt" chooses its provider by an expression but runs once', hint: 'name the provider (anthropic, openai or replay)' },
  { name: 'a matrix giving a provider that does not exist', yaml: stage('    matrix: { provider: [anthropic, gemini] }\n    provider: ${{ matrix.provider }}\n    prompt: Plan.\n', 'plan'), where: 'factory.yaml:11:15', message: 'its matrix gives the provider "gemini", which does not exist', hint: 'providers are anthropic, openai, replay' },
  { name: 'instance outside join.pick', yaml: stage('    matrix: { a: [1] }\n    env: { A: "${{ instance.index }}" }\n'), where: 'factory.yaml:12:20', message: 'context "instance" is not available here', hint: 'available here' },
];

describe('bad fan-out input', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const r = await runInProcess(['validate'], workspace(c.yaml));
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const out = r.stdout + r.stderr;
      expect(out).toContain(`${c.where} error`);
      expect(out).toContain(c.message);
      expect(out).toContain(c.hint);
    });
  }

  test('isolate on a kind that writes nothing is a warning, not an error', async () => {
    const yaml = `version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  judge:
    kind: review
    matrix: { model: [claude-sonnet-5-5, claude-haiku-5-5] }
    isolate: true
`;
    const r = await runInProcess(['validate'], workspace(yaml));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('factory.yaml:7:5 warning  stage "judge" (review) writes no file: `isolate` copies the workspace for nothing');
  });
});
