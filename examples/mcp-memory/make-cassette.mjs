#!/usr/bin/env node
// Records cassette.json: runs this example with the real Anthropic SDK against the fake
// Messages API of the tests (test/support/fake-anthropic.ts, scripted below with the answers a
// model would give), through the built CLI with `--provider anthropic --record`. The MCP
// server is the real one either way. Run `npm run build` first. To record against the real API:
//   ANTHROPIC_API_KEY=... node bin/factory.js apply examples/mcp-memory --provider anthropic --record examples/mcp-memory/cassette.json
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFakeAnthropic } from '../../bench/lib/fake-anthropic.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/factory.js', import.meta.url));
const { startFakeAnthropic, textMessage, toolUseMessage } = await loadFakeAnthropic();

const tools = (req) => (req.body?.tools ?? []).map((t) => t.name);
const turns = (req) => (req.body?.messages ?? []).filter((m) => m.role === 'assistant').length;
const remember = (req) => tools(req).includes('memory__create_entities');
const recall = (req) => tools(req).includes('memory__search_nodes') && !remember(req);

const PEOPLE = [
  { name: 'Ada', entityType: 'person', observations: ['works on the parser'] },
  { name: 'Grace', entityType: 'person', observations: ['works on the parser', 'works on the code generator'] },
  { name: 'Linus', entityType: 'person', observations: ['works on the build, alone'] },
];

const api = await startFakeAnthropic({
  rules: [
    {
      match: (r) => remember(r) && turns(r) === 0,
      reply: toolUseMessage(
        [
          { name: 'memory__create_entities', input: { entities: PEOPLE } },
          { name: 'memory__create_relations', input: { relations: [{ from: 'Ada', to: 'Grace', relationType: 'works with' }, { from: 'Grace', to: 'Ada', relationType: 'works with' }] } },
        ],
        { input_tokens: 1840, output_tokens: 212, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        { text: 'I will store the three people and who works with whom.' },
      ),
    },
    { match: (r) => remember(r) && turns(r) === 1, reply: textMessage('Stored Ada, Grace and Linus with what they work on, and that Ada and Grace work together.', { input_tokens: 2310, output_tokens: 28 }) },
    { match: (r) => recall(r) && turns(r) === 0, reply: toolUseMessage([{ name: 'memory__search_nodes', input: { query: 'parser' } }], { input_tokens: 1210, output_tokens: 41 }) },
    {
      match: (r) => recall(r) && turns(r) === 1,
      reply: toolUseMessage([{ name: 'write_file', input: { path: 'ANSWER.md', content: 'Ada and Grace work on the parser (they work together).\n' } }], { input_tokens: 1530, output_tokens: 64 }),
    },
    { match: (r) => recall(r) && turns(r) === 2, reply: textMessage('Wrote ANSWER.md: Ada and Grace work on the parser.', { input_tokens: 1620, output_tokens: 17 }) },
  ],
});

const child = spawn(process.execPath, [bin, 'apply', here, '--no-cache', '--provider', 'anthropic', '--record', path.join(here, 'cassette.json')], {
  stdio: 'inherit',
  env: { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-recording-key', ANTHROPIC_BASE_URL: api.url, CI: '1' },
});
const code = await new Promise((resolve) => child.on('close', resolve));
await api.close();
process.exitCode = code ?? 1;
