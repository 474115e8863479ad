import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, webToolMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { apiEnv, messagesOf, runDirOf, runJson, workspace } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

let api: FakeAnthropic;
beforeEach(async () => {
  api = await startFakeAnthropic();
});
afterEach(async () => {
  await api.close();
});

const PIPELINE = `version: 1
defaults:
  model: claude-sonnet-5-5
  max_tokens: 1024
  retries: 0
stages:
  research:
    kind: generate
    prompt: Find the release date of Node 20 and write it to NOTES.md.
    tools: [web_search, web_fetch, write_file]
    web:
      allowed_domains: [nodejs.org]
      max_uses: 3
`;

const USAGE = { input_tokens: 1000, output_tokens: 100 };
/** Tokens at Sonnet 5.5's $2 / $10 per million, plus $10 per 1,000 searches. */
const tokenCost = (calls: number) => (calls * (1000 * 2 + 100 * 10)) / 1e6;

describe('web tools: the provider runs them; factory hands them over, charges and records them', () => {
  test('web_search and web_fetch go to the API as server tools with allowed_domains; searches are charged per use; a paused turn resumes; the transcript shows them', async () => {
    const dir = workspace(PIPELINE);
    api.script([
      { match: (r) => JSON.stringify(r.body).includes('web_fetch_tool_result'), reply: textMessage('Node 20 was released on 2023-04-18.', USAGE) },
      {
        match: (r) => JSON.stringify(r.body).includes('web_search_tool_result'),
        reply: webToolMessage([{ fetch: 'https://nodejs.org/en/blog/release/v20.0.0', text: 'Node v20.0.0 (Current), 2023-04-18' }], '', USAGE, 'pause_turn'),
      },
      {
        reply: webToolMessage(
          [
            { search: 'node 20 release date', results: [{ url: 'https://nodejs.org/en/blog/release/v20.0.0', title: 'Node v20.0.0' }] },
            { search: 'node 20.0.0 changelog', results: [{ url: 'https://nodejs.org/en/blog/release/v20.0.0', title: 'Node v20.0.0' }] },
          ],
          'Let me read the release post.',
          USAGE,
          'pause_turn',
        ),
      },
    ]);
    const r = await cli(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);

    const requests = messagesOf(api.requests);
    expect(requests).toHaveLength(3);
    const tools = (requests[0]!.body as { tools: Record<string, unknown>[] }).tools;
    expect(tools).toEqual(
      expect.arrayContaining([
        { type: 'web_search_20250305', name: 'web_search', allowed_domains: ['nodejs.org'], max_uses: 3 },
        { type: 'web_fetch_20250910', name: 'web_fetch', allowed_domains: ['nodejs.org'], max_uses: 3 },
        expect.objectContaining({ name: 'write_file' }),
      ]),
    );
    // the paused turn went back as it came, so the API could resume it
    const resumed = (requests[1]!.body as { messages: { role: string; content: { type: string }[] }[] }).messages.at(-1)!;
    expect(resumed.role).toBe('assistant');
    expect(resumed.content.map((b) => b.type)).toEqual(['server_tool_use', 'web_search_tool_result', 'server_tool_use', 'web_search_tool_result', 'text']);

    const record = runJson(dir);
    expect(record.stages.research).toMatchObject({ status: 'succeeded', outputs: { summary: 'Node 20 was released on 2023-04-18.', turns: 3 } });
    // two searches at $10 per 1,000, a fetch at no charge beyond its tokens
    expect(record.stages.research!.cost_usd).toBeCloseTo(tokenCost(3) + 2 * 0.01, 9);
    expect(record.cost_usd).toBeCloseTo(tokenCost(3) + 0.02, 9);

    const transcript = readFileSync(path.join(runDirOf(dir), 'stages', 'research.transcript.jsonl'), 'utf8');
    expect(transcript).toContain('"type":"server_tool_use","id"');
    expect(transcript).toContain('"query":"node 20 release date"');
    expect(transcript).toContain('"web_search_requests":2');
  }, 60_000);

  test('a recorded cassette replays the web tools, charged as recorded, without the API', async () => {
    const dir = workspace(PIPELINE);
    api.script([
      { match: (r) => JSON.stringify(r.body).includes('web_search_tool_result'), reply: textMessage('It was 2023-04-18.', USAGE) },
      { reply: webToolMessage([{ search: 'node 20 release date', results: [{ url: 'https://nodejs.org/en/blog/release/v20.0.0', title: 'Node v20.0.0' }] }], '', USAGE, 'pause_turn') },
    ]);
    const cassette = path.join(dir, 'cassette.json');
    const live = await cli(['apply', '--record', cassette], dir, apiEnv(api.url));
    expect(live.code, live.stderr).toBe(0);
    const liveCost = runJson(dir).cost_usd;
    expect(liveCost).toBeCloseTo(tokenCost(2) + 0.01, 9);
    expect(readFileSync(cassette, 'utf8')).toContain('web_search_tool_result');

    const replayed = await cli(['apply', '--no-cache', '--replay', cassette], dir, { ANTHROPIC_API_KEY: '' });
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(runJson(dir).stages.research).toMatchObject({ status: 'succeeded', outputs: { summary: 'It was 2023-04-18.' } });
    expect(runJson(dir).cost_usd).toBeCloseTo(liveCost, 9);
    expect(messagesOf(api.requests)).toHaveLength(2);
  }, 60_000);

  test('allowed_domains and blocked_domains together are refused by validate, at the key', async () => {
    const dir = workspace(PIPELINE.replace('      max_uses: 3\n', '      blocked_domains: [example.com]\n'));
    const r = await cli(['validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:13:7 error {2}stage "research": web has both allowed_domains and blocked_domains/);
  });
});
