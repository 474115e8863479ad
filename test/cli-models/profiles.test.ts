import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../support/fake-anthropic.js';
import { apiEnv, cli, messagesOf, requireBuild, workspace } from './helpers.js';

beforeAll(requireBuild);

// Profiles, effort and thinking (docs/models-and-budgets.md): where each setting of a request
// comes from — the stage, else its profile, else `defaults` — seen in the bodies the real SDK sent.
const PIPELINE = `version: 1
defaults:
  model: claude-sonnet-5-5
  max_tokens: 2048
  effort: low
  profile: careful
profiles:
  careful:
    model: claude-opus-5-5
    max_tokens: 8000
    effort: high
    thinking: 4000
    system: You are careful.
  quick:
    model: claude-haiku-4-5
    thinking: off
stages:
  triage:
    kind: plan
    profile: quick
    prompt: Triage it.
  design:
    kind: plan
    needs: [triage]
    prompt: Design it.
  sketch:
    kind: plan
    needs: [design]
    effort: medium
    thinking: adaptive
    system: Sketch only.
    prompt: Sketch it.
`;

describe('profiles, effort and thinking', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test('a stage takes its own keys, then its profile, then defaults; plan shows each stage profile', async () => {
    api.script([{ reply: textMessage('ok', { input_tokens: 10, output_tokens: 5 }) }]);
    const dir = workspace(PIPELINE);
    const ran = await cli(['apply'], dir, apiEnv(api.url));
    expect(ran.stderr + ran.stdout).not.toMatch(/error/i);
    expect(ran.code).toBe(0);
    const bodies = messagesOf(api.requests).map((r) => r.body as Record<string, unknown>);
    const byPrompt = (text: string) => bodies.find((b) => JSON.stringify(b.messages).includes(text))!;
    // quick: its model and `thinking: off`; effort and max_tokens from defaults.
    expect(byPrompt('Triage it.')).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 2048, thinking: { type: 'disabled' }, output_config: { effort: 'low' } });
    expect(byPrompt('Triage it.').system).toBeUndefined();
    // careful (defaults.profile): every setting from the profile, its system prompt included.
    expect(byPrompt('Design it.')).toMatchObject({ model: 'claude-opus-5-5', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 4000 }, output_config: { effort: 'high' }, system: [expect.objectContaining({ text: 'You are careful.' })] });
    // Keys on the stage win over the profile.
    expect(byPrompt('Sketch it.')).toMatchObject({ model: 'claude-opus-5-5', thinking: { type: 'adaptive' }, output_config: { effort: 'medium' }, system: [expect.objectContaining({ text: 'Sketch only.' })] });

    const plan = await cli(['plan', '--format', 'json'], dir);
    expect(plan.code).toBe(0);
    const rows = (JSON.parse(plan.stdout) as { stages: { path: string; profile?: string; model?: string; worstCase?: { maxTokens: number } }[] }).stages;
    expect(rows.map((r) => [r.path, r.profile, r.model, r.worstCase?.maxTokens])).toEqual([
      ['triage', 'quick', 'claude-haiku-4-5', 2048],
      ['design', 'careful', 'claude-opus-5-5', 8000],
      ['sketch', 'careful', 'claude-opus-5-5', 8000],
    ]);
    const text = await cli(['plan', '--wide'], dir);
    expect(text.stdout).toMatch(/profile/);
    expect(text.stdout).toMatch(/triage\s.*claude-haiku-4-5\s+quick/);
  });

  test('a review in a profile sends its effort with the forced tool', async () => {
    api.script([{ match: { tool: 'submit_review' }, reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [], summary: 'fine' } }]) }]);
    const dir = workspace(`version: 1
profiles:
  judge: { model: claude-sonnet-5-5, effort: xhigh }
stages:
  check: { kind: review, profile: judge, rubric: Fine., diff: false, context: [a.txt] }
`, { 'a.txt': 'a\n' });
    const ran = await cli(['apply'], dir, apiEnv(api.url));
    expect(ran.code).toBe(0);
    expect(messagesOf(api.requests)[0]!.body).toMatchObject({ model: 'claude-sonnet-5-5', output_config: { effort: 'xhigh' } });
  });
});

describe('bad profiles and thinking settings', () => {
  test('a profile that does not exist: did-you-mean at its line, exit 2', async () => {
    const dir = workspace(`version: 1
profiles:
  careful: { model: claude-opus-5-5 }
stages:
  a:
    kind: plan
    profile: carefull
    prompt: hi
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:7:14');
    expect(r.stderr).toContain('there is no profile "carefull"');
    expect(r.stderr).toContain('did you mean "careful"?');
  });

  test('defaults.profile naming nothing, with no profiles at all: the hint says how to declare one', async () => {
    const dir = workspace(`version: 1
defaults: { profile: fast, model: claude-sonnet-5-5 }
stages:
  a: { kind: plan, prompt: hi }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:2:22');
    expect(r.stderr).toContain('declare it under a top-level `profiles:` map');
  });

  test('a thinking budget not under max_tokens, from a profile: named at the profile line', async () => {
    const dir = workspace(`version: 1
profiles:
  deep: { model: claude-opus-5-5, thinking: 4096 }
defaults: { max_tokens: 4096 }
stages:
  a: { kind: plan, profile: deep, prompt: hi }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('factory.yaml:3:45');
    expect(r.stderr).toContain('stage "a" may think 4096 tokens but answer at most max_tokens 4096');
    expect(r.stderr).toContain('raise max_tokens above 4096');
  });

  test('a thinking budget under 1024, or an effort that does not exist, is a schema error at the value', async () => {
    const dir = workspace(`version: 1
defaults: { model: claude-sonnet-5-5 }
stages:
  a: { kind: plan, prompt: hi, thinking: 500 }
  b: { kind: plan, prompt: hi, effort: extreme }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:4:\d+/);
    expect(r.stderr).toMatch(/factory\.yaml:5:\d+/);
    expect(r.stderr).toMatch(/"low", "medium", "high", "xhigh" or "max"/);
  });

  test('a stage whose only model comes from its profile is not missing one', async () => {
    const dir = workspace(`version: 1
profiles:
  p: { model: claude-opus-5-5 }
stages:
  a: { kind: plan, profile: p, prompt: hi }
  b: { kind: plan, prompt: hi }
`);
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('stage "a" (plan) names no model');
    expect(r.stderr).toContain('stage "b" (plan) names no model');
  });
});
