import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { loadRun } from '../../../src/records/read.js';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, messagesOf, runJson, workspace } from '../models/helpers.js';
import { cli, requireBuild, start, until } from '../../support/cli.js';

/**
 * docs/models-and-budgets.md across a crash: spend is journaled as the provider reports it, so a run killed
 * mid-call keeps what it paid; `--resume` starts its ledgers from all of it and never asks again
 * for an answer it already received.
 */
beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const journalText = (dir: string) => {
  const runs = path.join(dir, '.factory', 'runs');
  const run = existsSync(runs) ? readdirSync(runs)[0] : undefined;
  if (run === undefined) return '';
  const folder = path.join(runs, run, 'journal');
  return existsSync(folder) ? readdirSync(folder).map((f) => readFileSync(path.join(folder, f), 'utf8')).join('') : '';
};

const YAML = `version: 1
budget: { tokens: 5000 }
defaults:
  model: claude-sonnet-5-5
  max_tokens: 300
  retries: 0
stages:
  gen:
    kind: generate
    prompt: Write notes.txt, then say done.
`;

describe('kill -9 in the middle of a call, then --resume', () => {
  test('the record keeps the input tokens of the call in flight; the resumed run reuses the answer it had, starts its budget from everything spent, and the record ends equal to what the server served', async () => {
    const dir = workspace(YAML);
    // Turn 1 answers with a tool call; turn 2 starts its stream (180 input tokens billed) and hangs.
    api.script([
      { reply: toolUseMessage([{ name: 'write_file', input: { path: 'notes.txt', content: 'hello' } }], { input_tokens: 120, output_tokens: 40 }), times: 1 },
      { reply: { stall: true, start: { input_tokens: 180, output_tokens: 0 } }, times: 1 },
    ]);
    const child = start(['apply', '--json'], dir, apiEnv(api.url));
    await until(() => /"type":"model_usage"[^\n]*"input_tokens":180/.test(journalText(dir)), 20_000, 'the stalled call to report its input tokens');
    child.kill('SIGKILL');
    await child.done;

    const killed = loadRun(dir, readdirSync(path.join(dir, '.factory', 'runs'))[0]!);
    expect(killed.ok).toBe(true);
    if (!killed.ok) return;
    // Paid so far: turn 1 (160) and the start of turn 2 (180 input, and the 1 output token every message_start reports).
    expect(killed.record.usage).toMatchObject({ input_tokens: 300, output_tokens: 41 });

    api.script([{ reply: textMessage('done', { input_tokens: 200, output_tokens: 10 }) }]);
    const before = messagesOf(api.requests).length;
    const r = await cli(['apply', '--resume'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    // Turn 1's answer came from the journal: the server was asked only for turn 2.
    expect(messagesOf(api.requests).length - before).toBe(1);
    expect(readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('hello');
    const record = runJson(dir);
    expect(record.stages.gen).toMatchObject({ status: 'succeeded' });
    // Everything the server billed, across both processes: 160 + 181 + 210.
    expect(record.usage.input_tokens + record.usage.output_tokens).toBe(551);
  });

  test('resuming a run whose budget is spent never buys it again', async () => {
    const dir = workspace(YAML.replace('tokens: 5000', 'tokens: 400'));
    api.script([{ reply: toolUseMessage([{ name: 'write_file', input: { path: 'a.txt', content: 'a' } }], { input_tokens: 200, output_tokens: 150 }) }]);
    const first = await cli(['apply'], dir, apiEnv(api.url));
    expect(first.code, first.stderr).toBe(3);
    const served = messagesOf(api.requests).length;
    for (let i = 0; i < 3; i++) {
      const again = await cli(['apply', '--resume'], dir, apiEnv(api.url));
      expect(again.code, again.stderr).toBe(3);
    }
    // The resumed runs reused the one answer they had and could pay for nothing more.
    expect(messagesOf(api.requests).length, journalText(dir)).toBe(served);
    expect(runJson(dir).usage.input_tokens + runJson(dir).usage.output_tokens).toBeLessThanOrEqual(400);
  });
});
