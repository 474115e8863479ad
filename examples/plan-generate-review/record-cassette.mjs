#!/usr/bin/env node
// Records cassette.json: runs this example with the real Anthropic SDK against the fake
// Messages API of the tests (test/support/fake-anthropic.ts, scripted below with the answers
// a model would give), through the built CLI with `--provider anthropic --record`. Run
// `npm run build` first. To record against the real API instead:
//   ANTHROPIC_API_KEY=... npx factory apply examples/plan-generate-review --provider anthropic --record cassette.json
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFakeAnthropic } from '../../bench/lib/fake-anthropic.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/factory.js', import.meta.url));
const { startFakeAnthropic, textMessage, toolUseMessage } = await loadFakeAnthropic();

const GREET = `/** Greets someone by name; an empty or missing name greets the world. */
export function greet(name) {
  const who = typeof name === 'string' ? name.trim() : '';
  return \`Hello, \${who || 'world'}!\`;
}
`;
const hasToolResult = (req) => (req.body?.messages ?? []).some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result'));
const turns = (req) => (req.body?.messages ?? []).filter((m) => m.role === 'assistant').length;

const api = await startFakeAnthropic({
  rules: [
    {
      match: { tool: 'submit_review' },
      reply: toolUseMessage(
        [{ name: 'submit_review', input: { verdict: 'approve', score: 0.92, findings: [{ severity: 'info', file: 'src/greet.js', line: 3, message: 'A non-string name is treated as missing, which the spec allows.' }], summary: 'greet() matches SPEC.md: it trims the name and falls back to "world". Small and idiomatic.' } }],
        { input_tokens: 412, output_tokens: 118, cache_creation_input_tokens: 1024, cache_read_input_tokens: 0 },
      ),
    },
    { match: (r) => r.body?.tools && turns(r) === 2, reply: textMessage('Created src/greet.js: greet(name) trims the name and falls back to "world" when it is empty or missing.', { input_tokens: 96, output_tokens: 31, cache_creation_input_tokens: 0, cache_read_input_tokens: 2310 }) },
    { match: (r) => r.body?.tools && turns(r) === 1 && hasToolResult(r), reply: toolUseMessage([{ name: 'write_file', input: { path: 'src/greet.js', content: GREET } }], { input_tokens: 88, output_tokens: 142, cache_creation_input_tokens: 402, cache_read_input_tokens: 1908 }, { text: 'The folder has no src/ yet; I will create the module.' }) },
    { match: { tool: 'write_file' }, reply: toolUseMessage([{ name: 'list_files', input: {} }], { input_tokens: 64, output_tokens: 38, cache_creation_input_tokens: 1908, cache_read_input_tokens: 0 }, { text: 'Let me look at the workspace first.' }) },
    { reply: textMessage('1. Create src/greet.js as an ES module exporting greet(name).\n2. Trim the name; fall back to "world" when it is empty or missing.\n3. Return `Hello, ${name}!`.', { input_tokens: 187, output_tokens: 64, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }) },
  ],
});

const work = mkdtempSync(path.join(tmpdir(), 'factory-record-'));
cpSync(here, work, { recursive: true, filter: (src) => !/[/\\](\.factory|src|PLAN\.md)$/.test(src) });
const child = spawn(process.execPath, [bin, 'apply', work, '--provider', 'anthropic', '--record', path.join(here, 'cassette.json')], {
  stdio: 'inherit',
  env: { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-recording-key', ANTHROPIC_BASE_URL: api.url, CI: '1' },
});
const code = await new Promise((resolve) => child.on('close', resolve));
await api.close();
rmSync(work, { recursive: true, force: true });
process.exitCode = code ?? 1;
