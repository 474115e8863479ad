import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { estimatePipeline } from '../../src/config/estimate.js';
import { parseReview } from '../../src/stages/review.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';

const answer = (input: unknown) => ({ content: [{ type: 'tool_use', id: 't1', name: 'submit_review', input }] }) as never;

describe('the review answer', () => {
  test('a valid submit_review input', () => {
    const r = parseReview(answer({ verdict: 'approve', score: 1, findings: [{ severity: 'minor', file: 'a.js', line: '3', message: 'm' }, { severity: 'info', message: 'no file' }], summary: 's' }));
    expect(r).toEqual({
      ok: true,
      review: { verdict: 'approve', score: 1, summary: 's', findings: [{ severity: 'minor', file: 'a.js', line: 3, message: 'm' }, { severity: 'info', file: null, line: null, message: 'no file' }] },
    });
  });

  test.each([
    [{ content: [{ type: 'text', text: 'LGTM' }] }, 'did not call the submit_review tool'],
    [answer('approve'), 'not an object'],
    [answer({ verdict: 'yes', score: 0.5, findings: [], summary: '' }), '"verdict" must be'],
    [answer({ verdict: 'approve', score: 80, findings: [], summary: '' }), '"score" must be a number from 0 to 1'],
    [answer({ verdict: 'approve', score: 0.9, findings: {}, summary: '' }), '"findings" must be a list'],
    [answer({ verdict: 'approve', score: 0.9, findings: [{ severity: 'blocker', message: 'x' }], summary: '' }), 'findings[0].severity must be one of'],
    [answer({ verdict: 'approve', score: 0.9, findings: [], summary: 3 }), '"summary" must be a string'],
  ])('malformed: %j', (message, problem) => {
    const r = parseReview(message as never);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toContain(problem);
  });
});

describe('worst-case estimate for factory plan', () => {
  test('prompt + context at 4 chars a token plus max_tokens; generate × max_turns, review × 2, loops × max_iterations', () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'SPEC.md'), 'x'.repeat(4000));
    const pipeline = buildPipeline(dir, {
      defaults: { model: 'claude-sonnet-5-5', max_tokens: 1000 },
      stages: {
        plan: { kind: 'plan', prompt: 'p'.repeat(400), context: ['SPEC.md'] },
        loop: {
          kind: 'loop',
          max_iterations: 3,
          until: 'true',
          stages: {
            gen: { kind: 'generate', prompt: 'g', max_turns: 5 },
            review: { kind: 'review', model: 'unpriced-model' },
          },
        },
        outside: { kind: 'generate', prompt: 'x', agent: { run: ['claude'] } },
      },
    });
    const e = estimatePipeline(pipeline);
    const plan = e.stages.find((s) => s.path === 'plan')!;
    expect(plan.promptTokens).toBe(Math.ceil((400 + 4000 + 'SPEC.md'.length + 20) / 4));
    expect(plan.tokens).toBe(plan.promptTokens + 1000);
    expect(plan.cost_usd).toBeCloseTo((plan.promptTokens * 2 + 1000 * 10) / 1e6, 12);
    const gen = e.stages.find((s) => s.path === 'loop.gen')!;
    expect(gen).toMatchObject({ calls: 5, iterations: 3 });
    expect(gen.tokens).toBe(15 * (gen.promptTokens + 1000));
    expect(e.stages.find((s) => s.path === 'loop.review')).toMatchObject({ calls: 2, iterations: 3, cost_usd: undefined });
    expect(e.stages.some((s) => s.path === 'outside')).toBe(false);
    expect(e.unpriced).toEqual(['unpriced-model']);
  });
});
