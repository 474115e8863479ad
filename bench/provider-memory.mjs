#!/usr/bin/env node
// Peak memory of one streamed model call with a very long answer (issue 13: a 50 MB answer took
// 1.5 GB). The fake Messages API of the tests runs here; the call runs in a child process
// (dist/providers/anthropic.js through the real SDK, streaming as the engine calls it, with an
// onText listener as a stage has) which prints its peak RSS. Prints, for each case, the child's
// peak RSS, how the call ended and the answer's size; then the same long answer to a plan stage
// through the CLI (`factory apply`, in a child that prints its peak RSS). Figures only; nothing
// is asserted.
// Run `npm run build` first. BENCH_ANSWER_MB sets the long answer's size (default 50).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFakeAnthropic } from './lib/fake-anthropic.mjs';
import { ROOT } from './lib/measure.mjs';
import { tempDir } from './lib/temp.mjs';

if (process.argv[2] === 'child') {
  const [, , , url, maxTokens] = process.argv;
  const { AnthropicProvider } = await import('../dist/providers/anthropic/anthropic.js');
  const provider = new AnthropicProvider({ apiKey: 'sk-ant-bench', baseURL: url, retry: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } });
  let streamed = 0;
  const r = await provider.call(
    { model: 'claude-sonnet-5-5', max_tokens: Number(maxTokens), messages: [{ role: 'user', content: 'Write a lot.' }] },
    { key: { stage: 'bench', iteration: 0, call: 1 }, signal: new AbortController().signal, onText: (t) => (streamed += t.length) },
  );
  const size = r.ok ? r.message.content.reduce((n, b) => n + (b.type === 'text' ? b.text.length : 0), 0) : 0;
  process.stdout.write(JSON.stringify({ ok: r.ok, size, streamed, error: r.ok ? undefined : r.error.message, maxRssKB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const MB = Number(process.env.BENCH_ANSWER_MB ?? 50);
const { startFakeAnthropic, textMessage } = await loadFakeAnthropic();
const self = fileURLToPath(import.meta.url);

function child(url, maxTokens) {
  return run([self, 'child', url, String(maxTokens)]);
}

function run(args, options = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
  });
}

async function measure(label, chars, maxTokens) {
  // 64 characters per text_delta: about what the API sends (a few tokens per event).
  const api = await startFakeAnthropic({ rules: [{ reply: { ...textMessage('x'.repeat(chars), { output_tokens: maxTokens }), chunkSize: 64 } }] });
  try {
    const r = await child(api.url, maxTokens);
    const how = r.ok ? `answer of ${(r.size / 1e6).toFixed(1)} MB` : `refused: ${r.error}`;
    console.log(`${label}: peak RSS ${(r.maxRssKB / 1024).toFixed(0)} MB (${how}; ${(r.streamed / 1e6).toFixed(1)} MB streamed to onText)`);
  } finally {
    await api.close();
  }
}

// What the issue saw: far more text than max_tokens allows (a broken or hostile endpoint).
await measure(`${MB} MB answer, max_tokens 128000`, MB * 1e6, 128_000);
// The longest answer a model can give: 128k tokens of about 4 characters each.
await measure('512 KB answer, max_tokens 128000', 512_000, 128_000);
// A large legitimate max_tokens with an answer that fills it (a call with max_tokens above 3M is not possible today; this shows the cost per byte).
await measure(`${MB} MB answer, max_tokens ${Math.ceil((MB * 1e6) / 4)}`, MB * 1e6, Math.ceil((MB * 1e6) / 4));

// The CLI: a plan stage given the 50 MB answer (its stdout, transcript and record included).
async function measureCli(label, chars, maxTokens) {
  const api = await startFakeAnthropic({ rules: [{ reply: { ...textMessage('x'.repeat(chars), { output_tokens: maxTokens }), chunkSize: 64 } }] });
  const dir = tempDir('factory-bench-mem-');
  writeFileSync(path.join(dir, 'factory.yaml'), `version: 1\nname: long-answer\ndefaults: { model: claude-sonnet-5-5, max_tokens: ${maxTokens}, retries: 0 }\nstages:\n  plan: { kind: plan, prompt: Write a lot. }\n`);
  try {
    const env = { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-bench', ANTHROPIC_BASE_URL: api.url, CI: '1' };
    const r = await run([path.join(ROOT, 'bench/lib/rss-child.mjs'), 'apply', '--no-cache'], { cwd: dir, env });
    console.log(`${label}: peak RSS ${(r.maxRssKB / 1024).toFixed(0)} MB (exit ${r.code})`);
  } finally {
    await api.close();
  }
}
await measureCli(`factory apply, plan stage, ${MB} MB answer, max_tokens 128000`, MB * 1e6, 128_000);
await measureCli(`factory apply, plan stage, ${MB} MB answer, max_tokens ${Math.ceil((MB * 1e6) / 4)}`, MB * 1e6, Math.ceil((MB * 1e6) / 4));
