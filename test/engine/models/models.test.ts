import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPipeline, tempWorkspace } from '../../support/pipeline-builder.js';
import { run } from '../../support/run-helpers.js';

const message = (text: string, usage: Record<string, number>) => ({
  id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content: [{ type: 'text', text }],
  stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...usage },
});

function cassette(dir: string, calls: { stage: string; call?: number; text: string; usage: Record<string, number> }[]): string {
  const file = path.join(dir, 'cassette.json');
  writeFileSync(file, JSON.stringify({ version: 1, calls: calls.map((c) => ({ stage: c.stage, iteration: 0, call: c.call ?? 1, response: message(c.text, c.usage) })) }));
  return file;
}

describe('model stages in the engine (replay provider)', () => {
  test('usage and cost charged as recorded, cache tokens at their own prices; the budget context reads the ledger', async () => {
    const dir = tempWorkspace();
    const file = cassette(dir, [{ stage: 'plan', text: 'the plan', usage: { input_tokens: 1000, output_tokens: 100, cache_creation_input_tokens: 2000, cache_read_input_tokens: 4000 } }]);
    const pipeline = buildPipeline(dir, {
      defaults: { model: 'claude-sonnet-5-5', provider: 'replay' },
      budget: { tokens: '100k', cost_usd: 1 },
      stages: {
        plan: { kind: 'plan', prompt: 'Plan.' },
        after: { kind: 'command', needs: ['plan'], run: 'printf "%s %s %s" "$T" "$U" "$L"', env: { T: '${{ budget.spent_tokens }}', U: '${{ budget.spent_usd }}', L: '${{ budget.remaining_tokens }}' } },
      },
    });
    const r = await run(pipeline, { models: { replay: file } });
    expect(r.summary.exit_code).toBe(0);
    // Sonnet 5.5: 2 / 10 per million, cache writes 2.5, cache reads 0.1
    const cost = (1000 * 2 + 100 * 10 + 2000 * 2.5 + 4000 * 0.1) / 1e6;
    expect(r.stage('plan').cost_usd).toBeCloseTo(cost, 12);
    expect(r.stage('plan').outputs).toEqual({ text: 'the plan' });
    const [t, u, l] = String(r.stage('after').outputs.stdout).split(' ');
    expect(Number(t)).toBe(7100);
    expect(Number(u)).toBeCloseTo(cost, 12);
    expect(Number(l)).toBe(100_000 - 7100);
    expect(r.events.of('model_call')).toHaveLength(1);
  });

  test('a missing cassette entry is a configuration error naming the stage and call', async () => {
    const dir = tempWorkspace();
    const file = cassette(dir, []);
    const pipeline = buildPipeline(dir, { defaults: { model: 'claude-sonnet-5-5', retries: 0 }, stages: { plan: { kind: 'plan', prompt: 'Plan.' } } });
    const r = await run(pipeline, { models: { replay: file } });
    expect(r.stage('plan')).toMatchObject({ status: 'error', reason: 'config' });
    expect(r.stage('plan').message).toContain('no recorded answer for stage "plan", call 1');
  });

  test('an external agent: prompt on stdin, its JSON usage charged, its changes found by the snapshot', async () => {
    const dir = tempWorkspace();
    const agent = path.join(dir, 'agent.sh');
    writeFileSync(agent, '#!/bin/sh\ncat > prompt.txt\necho made > made.txt\necho \'{"type":"result","result":"did it","usage":{"input_tokens":100,"output_tokens":10}}\'\n');
    chmodSync(agent, 0o755);
    writeFileSync(path.join(dir, 'SPEC.md'), 'the spec');
    const pipeline = buildPipeline(dir, {
      defaults: { model: 'claude-sonnet-5-5' },
      stages: { gen: { kind: 'generate', prompt: 'Build it.', context: ['SPEC.md'], agent: { run: ['./agent.sh'] } } },
    });
    const r = await run(pipeline);
    expect(r.summary.exit_code).toBe(0);
    expect(r.stage('gen')).toMatchObject({ status: 'succeeded', outputs: { summary: 'did it', files_changed: ['made.txt', 'prompt.txt'], turns: 1 } });
    expect(r.stage('gen').usage).toMatchObject({ input_tokens: 100, output_tokens: 10 });
    expect(r.stage('gen').cost_usd).toBeCloseTo((100 * 2 + 10 * 10) / 1e6, 12);
    const prompt = readFileSync(path.join(dir, 'prompt.txt'), 'utf8');
    expect(prompt).toContain('<file path="SPEC.md">\nthe spec\n</file>');
    expect(prompt).toContain('Build it.');
  });
});
