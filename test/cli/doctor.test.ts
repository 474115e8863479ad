import { beforeAll, describe, expect, test } from 'vitest';
import { requireBuild, runBuilt } from '../support/cli.js';
import { workspace } from './models/helpers.js';
import { pathWithoutBubblewrap } from './sandbox/helpers.js';

/** `factory doctor` through the built CLI: one line per need, ✓ or ✗ with the fix, exit 0 or 1. */
beforeAll(requireBuild);

const pipeline = (head: string) => `version: 1\n${head}stages:\n  plan:\n    kind: plan\n    prompt: Plan.\n  build:\n    kind: command\n    run: "true"\n`;

describe('factory doctor', () => {
  test('everything the pipeline needs holds: exit 0, one ✓ line each', () => {
    const dir = workspace(pipeline('sandbox: true\ndefaults:\n  model: claude-sonnet-4-5\n'));
    const r = runBuilt(['doctor'], dir, { ANTHROPIC_API_KEY: 'sk-ant-test-doctor' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^✓ Node 20\.\d+\.\d+$/);
    expect(lines).toContainEqual(expect.stringMatching(/^✓ git \(/));
    expect(lines).toContain('✓ API key in ANTHROPIC_API_KEY');
    expect(lines).toContainEqual(expect.stringMatching(/^✓ bwrap \(/));
    expect(lines).toContain('✓ bubblewrap can make a sandbox here');
    expect(lines).toContain('✓ pricing of claude-sonnet-4-5');
    expect(lines.at(-1)).toMatch(/^all \d+ checks hold$/);
    expect(r.stdout).not.toContain('sk-ant-test-doctor');
  });

  test('what is missing is a ✗ line with its fix, and exit 1', () => {
    const dir = workspace(pipeline('sandbox: true\nproviders:\n  anthropic:\n    api_key_env: MY_FACTORY_KEY\ndefaults:\n  model: claude-sonet-4-5\n'));
    const r = runBuilt(['doctor'], dir, { MY_FACTORY_KEY: '', PATH: pathWithoutBubblewrap() });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('✗ MY_FACTORY_KEY is not set\n    fix: export MY_FACTORY_KEY=<your key>, or run offline from a cassette: factory apply --replay FILE');
    expect(r.stdout).toContain('✗ bwrap is not on the PATH\n    fix: install bubblewrap, socat and ripgrep (Debian/Ubuntu: apt-get install bubblewrap socat ripgrep');
    expect(r.stdout).toContain('✗ no pricing for claude-sonet-4-5 (did you mean claude-sonnet-4-5?)\n    fix: add claude-sonet-4-5 under pricing:');
    expect(r.stdout).toMatch(/\n3 of \d+ checks fail\n$/);
  });

  test('replay: the cassette is checked instead of a key; no sandbox lines when no stage is sandboxed', () => {
    const dir = workspace(pipeline('providers:\n  replay:\n    cassette: missing.json\ndefaults:\n  provider: replay\n  model: claude-sonnet-4-5\n'));
    const r = runBuilt(['doctor'], dir, { ANTHROPIC_API_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ cassette missing\.json does not exist \(.*missing\.json\)\n {4}fix: record one with factory apply --record FILE/);
    expect(r.stdout).not.toContain('API key');
    expect(r.stdout).not.toContain('bwrap');
  });

  test('a file that is not valid: its diagnostics, exit 2', () => {
    const dir = workspace('version: 1\nstages:\n  a:\n    kind: command\n');
    const r = runBuilt(['doctor'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:3:3 error {2}stage "a" is missing the required key `run`/);
  });
});
