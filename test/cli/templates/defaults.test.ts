import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt } from '../../support/cli.js';

/**
 * A `uses:` template's model stages: what `plan` shows (provider, model) is what `apply` does.
 * The provider is the caller's choice (its `defaults.provider` wins over the template's), the
 * model the template's own (its `defaults.model`, else the caller's).
 */

function workspace(files: Record<string, string>): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-templates-defaults-')));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const answer = (model: string) => ({
  id: 'msg_t',
  type: 'message',
  role: 'assistant',
  model,
  content: [{ type: 'text', text: 'done' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 2 },
});

const cassette = (stages: string[]) => JSON.stringify({ version: 1, calls: stages.map((stage) => ({ stage, iteration: 0, call: 1, response: answer('claude-sonnet-5-5') })) });

// No key, and an endpoint that answers nothing: a live call could not succeed.
const OFFLINE = { ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };

interface PlanJson {
  stages: { path: string; model?: string; provider?: string }[];
}

function planOf(dir: string): Map<string, { model?: string; provider?: string }> {
  const r = runBuilt(['plan', '--format', 'json'], dir, OFFLINE);
  expect(r.code, r.stderr).toBe(0);
  return new Map((JSON.parse(r.stdout) as PlanJson).stages.map((s) => [s.path, s]));
}

function modelCalls(stdout: string): Map<string, string> {
  const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; stage?: string; model?: string });
  return new Map(events.filter((e) => e.type === 'model_call').map((e) => [e.stage!, e.model!]));
}

describe("a template's model stages take the caller's provider", () => {
  test("the caller's defaults.provider: replay keeps a template that says anthropic offline; plan and apply agree on provider and model", () => {
    const dir = workspace({
      // Like the built-ins: the template names anthropic and its own model.
      'tpl.yaml': 'version: 1\ndefaults: { provider: anthropic, model: claude-haiku-5-5, max_tokens: 512 }\nstages:\n  draft: { kind: plan, prompt: say hi }\n',
      'factory.yaml':
        'version: 1\ndefaults: { provider: replay, model: claude-sonnet-5-5 }\nproviders: { replay: { cassette: cassette.json } }\n' +
        'stages:\n  own: { kind: plan, prompt: say hello }\n  call: { kind: pipeline, uses: ./tpl.yaml }\n',
      'cassette.json': cassette(['own', 'call.draft']),
    });
    const plan = planOf(dir);
    expect(plan.get('call.draft')).toMatchObject({ provider: 'replay', model: 'claude-haiku-5-5' });
    expect(plan.get('own')).toMatchObject({ provider: 'replay', model: 'claude-sonnet-5-5' });

    const r = runBuilt(['apply', '--json'], dir, OFFLINE);
    expect(r.code, r.stderr).toBe(0);
    const calls = modelCalls(r.stdout);
    expect(calls.get('call.draft')).toBe(plan.get('call.draft')!.model);
    expect(calls.get('own')).toBe(plan.get('own')!.model);
  });

  test("a template that names no provider takes the caller's, in plan and in apply", () => {
    const dir = workspace({
      'tpl.yaml': 'version: 1\ndefaults: { model: claude-sonnet-5-5 }\nstages:\n  draft: { kind: plan, prompt: say hi }\n',
      'factory.yaml':
        'version: 1\ndefaults: { provider: replay, model: claude-sonnet-5-5 }\nproviders: { replay: { cassette: cassette.json } }\n' +
        'stages:\n  call: { kind: pipeline, uses: ./tpl.yaml }\n',
      'cassette.json': cassette(['call.draft']),
    });
    expect(planOf(dir).get('call.draft')).toMatchObject({ provider: 'replay', model: 'claude-sonnet-5-5' });
    const r = runBuilt(['apply', '--json'], dir, OFFLINE);
    expect(r.code, r.stderr).toBe(0);
    expect(modelCalls(r.stdout).get('call.draft')).toBe('claude-sonnet-5-5');
  });

  test("a provider named on the template's stage is kept, and plan says so as apply does", () => {
    const dir = workspace({
      'tpl.yaml': 'version: 1\nstages:\n  draft: { kind: plan, provider: anthropic, model: claude-sonnet-5-5, prompt: say hi }\n',
      'factory.yaml':
        'version: 1\ndefaults: { provider: replay, model: claude-sonnet-5-5 }\nproviders: { replay: { cassette: cassette.json } }\n' +
        'stages:\n  call: { kind: pipeline, uses: ./tpl.yaml }\n',
      'cassette.json': cassette(['call.draft']),
    });
    expect(planOf(dir).get('call.draft')).toMatchObject({ provider: 'anthropic' });
    const r = runBuilt(['apply'], dir, OFFLINE);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ANTHROPIC_API_KEY is not set');
  });
});
