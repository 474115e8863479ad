import { chmodSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';

/**
 * An external agent (`generate` with `agent:`) through the built CLI: plan shows it as an agent,
 * not a provider; tokens it reports without a cost are priced by the stage's model, so a
 * cost_usd budget stops it; with no model to price them, validate refuses the budget.
 */

function workspace(factory: string): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-agent-cost-')));
  writeFileSync(path.join(dir, 'factory.yaml'), factory);
  // Reports a million input tokens and no cost, as an agent without cost reporting does.
  writeFileSync(path.join(dir, 'agent.sh'), '#!/bin/sh\ncat > /dev/null\necho \'{"type":"result","result":"done","usage":{"input_tokens":1000000,"output_tokens":0}}\'\n');
  chmodSync(path.join(dir, 'agent.sh'), 0o755);
  return dir;
}

const stage = (extra = '') => `stages:\n  gen:\n    kind: generate\n    prompt: Build it.\n    agent: { run: [./agent.sh] }\n${extra}`;

describe('an external agent under a cost_usd budget', () => {
  test('without a model to price its tokens, validate refuses it at the stage, with the fix', () => {
    const dir = workspace(`version: 1\nbudget: { cost_usd: 1 }\n${stage()}`);
    const r = runBuilt(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:7:5 error  stage "gen" hands its work to an external agent under the cost_usd budget of the run, but no `model` prices the tokens the agent reports');
    expect(r.stderr).toContain('add `model:` to the stage');
    // apply refuses it the same way, before anything runs.
    expect(runBuilt(['apply'], dir).code).toBe(2);
  });

  test("an enclosing loop's cost_usd budget holds over it too; a model without a price is refused at its line", () => {
    const loop = 'version: 1\nstages:\n  build:\n    kind: loop\n    max_iterations: 2\n    until: ${{ true }}\n    budget: { cost_usd: 1 }\n    stages:\n      gen:\n        kind: generate\n        prompt: Build it.\n        agent: { run: [./agent.sh] }\n';
    const r = runBuilt(['validate'], workspace(loop));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stage "build.gen" hands its work to an external agent under the cost_usd budget of stage "build"');
    const unpriced = runBuilt(['validate'], workspace(`${loop}        model: claude-sonnet-9-9\n`));
    expect(unpriced.code).toBe(2);
    expect(unpriced.stderr).toContain('factory.yaml:13:16 error  the model "claude-sonnet-9-9" of stage "build.gen" has no price');
  });

  test('with a model, its reported tokens are priced by it and the budget stops the run (exit 3)', () => {
    const dir = workspace(`version: 1\nbudget: { cost_usd: 1 }\n${stage('    model: claude-sonnet-5-5\n')}`);
    const plan = runBuilt(['plan', '--format', 'json'], dir);
    expect(plan.code, plan.stderr).toBe(0);
    expect((JSON.parse(plan.stdout) as { stages: unknown[] }).stages[0]).toMatchObject({ path: 'gen', provider: 'agent', model: 'claude-sonnet-5-5' });
    const r = runBuilt(['apply', '--json'], dir);
    expect(r.code, r.stderr).toBe(3);
    const calls = r.stdout.split('\n').filter((l) => l.includes('"model_call"')).map((l) => JSON.parse(l) as { model: string; cost_usd: number });
    // A million input tokens at $2 per million.
    expect(calls).toEqual([expect.objectContaining({ model: 'claude-sonnet-5-5', cost_usd: 2 })]);
  });

  test('without a budget or a model: plan says agent, and progress names the agent, not an unknown model', () => {
    const dir = workspace(`version: 1\n${stage()}`);
    const plan = runBuilt(['plan'], dir);
    expect(plan.code, plan.stderr).toBe(0);
    const row = plan.stdout.split('\n').find((l) => l.includes(' gen '))!;
    expect(row).toMatch(/generate\s+-\s+-\s+-\s+agent\s/);
    expect(row).not.toContain('anthropic');
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(0);
    // Progress goes to stderr (stdout is kept for --json).
    expect(r.stderr).toContain('◆ gen agent.sh (agent): 1.0M tokens');
    expect(r.stderr).not.toContain('unknown');
  });
});
