import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { cli, requireBuild, ROOT, start } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { COMMAND, identityEnv, runJson } from './helpers.js';

beforeAll(requireBuild);

/** The flagship example's files and cassette under a factory.yaml that extends the built-in. */
function flagship(): string {
  const dir = tempWorkspace('factory-approve-template-');
  const example = path.join(ROOT, 'examples', 'roman-numerals');
  for (const f of ['SPEC.md', 'test.js', 'package.json', 'cassette.json', 'scenarios']) cpSync(path.join(example, f), path.join(dir, f), { recursive: true });
  writeFileSync(
    path.join(dir, 'factory.yaml'),
    'version: 1\nextends: builtin:spec-to-code\nwith: { test_command: "npm test --silent" }\n' +
      'defaults: { provider: replay, model: claude-sonnet-5-5, max_tokens: 2048 }\nproviders: { replay: { cassette: cassette.json } }\n',
  );
  return dir;
}

describe('builtin:spec-to-code has an optional gate before the loop', () => {
  test('off by default: the gate is skipped and the loop still runs and converges', async () => {
    const dir = flagship();
    const r = await cli(['apply'], dir, identityEnv(dir));
    expect(r.code, r.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'skipped', reason: 'if' });
    expect(record.stages.build!.outputs).toMatchObject({ iterations: 2, converged: true });
  });

  test('gate=true waits with the plan shown; approved from CI, the loop runs', async () => {
    const dir = flagship();
    const env = identityEnv(dir, undefined, 'reviewer');
    const run = start(['apply', '--set', 'gate=true'], dir, env);
    const [, id, stage] = await run.waitFor(COMMAND);
    expect(stage).toBe('gate');
    expect(run.output()).toContain('? gate waiting for approval: Generate code from this plan?');
    expect(run.output()).toMatch(/\? {3}stages\.plan\.outputs\.text: \S/);
    expect((await cli(['approve', id!, 'gate'], dir, env)).code).toBe(0);
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    const record = runJson(dir);
    expect(record.stages.gate!.outputs).toMatchObject({ approved: true, by: 'reviewer' });
    expect(record.stages.build!.outputs).toMatchObject({ converged: true });
  });

  test('gate=true and rejected: the loop does not run and the run fails (exit 1)', async () => {
    const dir = flagship();
    const env = identityEnv(dir);
    const run = start(['apply', '--set', 'gate=true'], dir, env);
    const [, id] = await run.waitFor(COMMAND);
    expect((await cli(['approve', id!, 'gate', '--reject'], dir, env)).code).toBe(0);
    expect((await run.done).code).toBe(1);
    const record = runJson(dir);
    expect(record.stages.gate).toMatchObject({ status: 'failed', reason: 'rejected' });
    expect(record.stages.build).toMatchObject({ status: 'skipped', reason: 'needs' });
  });

  test('gate=true with --approve gate (as an exported CI job runs it): no wait', async () => {
    const dir = flagship();
    const r = await cli(['apply', '--set', 'gate=true', '--approve', 'gate'], dir, identityEnv(dir));
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.build!.outputs).toMatchObject({ converged: true });
  });
});
