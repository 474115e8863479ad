import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { validateValue } from '../../../src/config/schema.js';
import { runBuilt } from '../../support/cli.js';
import { textMessage } from '../../support/fake-anthropic.js';

/** A hand-written cassette may leave `iteration` out: it means 0, a stage in no loop (docs/running.md). */

function workspace(factory: string, calls: unknown[]): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-cassette-iteration-')));
  writeFileSync(path.join(dir, 'factory.yaml'), factory);
  writeFileSync(path.join(dir, 'cassette.json'), JSON.stringify({ version: 1, calls }));
  return dir;
}

const HEAD = 'version: 1\ndefaults: { provider: replay, model: claude-sonnet-5-5 }\nproviders: { replay: { cassette: cassette.json } }\n';

describe('a cassette call without iteration', () => {
  test('is valid against the schema', () => {
    expect(validateValue('cassette', { version: 1, calls: [{ stage: 'plan', call: 1, response: textMessage('ok') }] })).toEqual([]);
  });

  test('answers a stage in no loop', () => {
    const dir = workspace(`${HEAD}stages:\n  plan: { kind: plan, prompt: Plan it. }\n`, [{ stage: 'plan', call: 1, response: textMessage('the plan') }]);
    const r = runBuilt(['apply', '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"type":"model_call"');
  });

  test('is iteration 0, so it does not answer a stage inside a loop, and the miss names the key', () => {
    const dir = workspace(
      `${HEAD}stages:\n  build:\n    kind: loop\n    max_iterations: 1\n    until: \${{ true }}\n    stages:\n      plan: { kind: plan, prompt: Plan it., retries: 0 }\n`,
      [{ stage: 'build.plan', call: 1, response: textMessage('the plan') }],
    );
    const r = runBuilt(['apply'], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no recorded answer for stage "build.plan", iteration 1, call 1');
  });
});
