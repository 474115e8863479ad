#!/usr/bin/env node
// Budgets against the fake Messages API of the tests, through the built CLI and the real SDK.
// Prints:
//  1. the worst overshoot of a tight run budget over 8 parallel plan stages (goal: none), over
//     several runs with different answer lengths;
//  2. spend recorded against spend served after random kill -9s and --resumes of an agent that
//     keeps calling (goal: equal), and how many answers were asked for twice.
// Figures only; nothing is asserted. Run `npm run build` first.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN } from './lib/measure.mjs';
import { loadFakeAnthropic } from './lib/fake-anthropic.mjs';
import { tempDir } from './lib/temp.mjs';

const KILLS = Number(process.env.BENCH_KILLS ?? 20);
const { startFakeAnthropic, textMessage, toolUseMessage } = await loadFakeAnthropic();
const env = (url) => ({ ...process.env, ANTHROPIC_API_KEY: 'sk-ant-bench', ANTHROPIC_BASE_URL: url, CI: '1', NO_COLOR: '1' });
const calls = (api) => api.requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages');
const inputOf = (req) => Math.ceil(JSON.stringify(req.body.messages).length / 4);

function apply(dir, url, args = []) {
  const child = spawn(process.execPath, [BIN, 'apply', ...args], { cwd: dir, env: env(url), stdio: 'ignore' });
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
}

function workspace(yaml) {
  const dir = tempDir('factory-bench-budget-');
  writeFileSync(path.join(dir, 'factory.yaml'), yaml);
  return dir;
}

function usageOf(dir) {
  const runs = path.join(dir, '.factory', 'runs');
  const run = readdirSync(runs)[0];
  return JSON.parse(readFileSync(path.join(runs, run, 'run.json'), 'utf8')).usage;
}

function recorded(dir) {
  const u = usageOf(dir);
  return u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
}

// 1. Eight parallel plans under a 3,000-token budget.
{
  const LIMIT = 3000;
  let worst = -Infinity;
  const lines = [];
  for (const wants of [200, 450, 900, 2000]) {
    const api = await startFakeAnthropic();
    let served = 0;
    api.script([
      {
        reply: (req) => {
          const out = Math.min(req.body.max_tokens, wants);
          served += inputOf(req) + out;
          return { ...textMessage('x'.repeat(out), { input_tokens: inputOf(req), output_tokens: out }), stop_reason: out < wants ? 'max_tokens' : 'end_turn', latencyMs: 30 };
        },
      },
    ]);
    const stages = Array.from({ length: 8 }, (_, i) => `  p${i}:\n    kind: plan\n    prompt: Plan part ${i}.\n`).join('');
    const dir = workspace(`version: 1\nconcurrency: 8\nbudget: { tokens: ${LIMIT} }\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 1024\n  retries: 0\nstages:\n${stages}`);
    const code = await apply(dir, api.url).done;
    const over = served - LIMIT;
    worst = Math.max(worst, over);
    lines.push(`  answers of ${String(wants).padStart(4)} tokens: ${calls(api).length} calls, served ${served} of ${LIMIT} (${over > 0 ? `+${over}` : over}), recorded ${recorded(dir)}, exit ${code}`);
    await api.close();
  }
  console.log('8 parallel plan stages under a 3,000-token run budget:');
  for (const l of lines) console.log(l);
  console.log(`  worst overshoot: ${worst > 0 ? `${worst} tokens` : 'none'} (goal: none)`);
}

// 2. Random kill -9s and --resumes of an agent that writes a file a turn.
{
  const api = await startFakeAnthropic();
  const served = { input: 0, output: 0 };
  let turn = 0;
  api.script([
    {
      reply: (req) => {
        const usage = { input_tokens: inputOf(req), output_tokens: 40 };
        served.input += usage.input_tokens;
        served.output += usage.output_tokens;
        turn++;
        const done = req.body.messages.length >= 2 * 12;
        const message = done ? textMessage('done', usage) : toolUseMessage([{ name: 'write_file', input: { path: `f${req.body.messages.length}.txt`, content: String(turn) } }], usage);
        // message_start (with the input tokens) goes at once; the text streams for a while after it.
        return { ...message, chunkDelayMs: 5 + (turn % 5) * 5, chunkSize: 4 };
      },
    },
  ]);
  const dir = workspace('version: 1\nbudget: { tokens: 2M }\ndefaults:\n  model: claude-sonnet-5-5\n  max_tokens: 200\n  retries: 0\nstages:\n  gen:\n    kind: generate\n    prompt: Write the files one a turn.\n    max_turns: 40\n');
  let first = true;
  for (let i = 0; i < KILLS; i++) {
    const run = apply(dir, api.url, first ? [] : ['--resume']);
    first = false;
    // Kill at a random moment once the apply has started calling the model.
    const seen = calls(api).length;
    for (let t = 0; t < 400 && calls(api).length === seen; t++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    run.child.kill('SIGKILL');
    await run.done;
  }
  const last = await apply(dir, api.url, ['--resume']).done;
  const asked = calls(api).map((r) => JSON.stringify(r.body.messages));
  const twice = asked.length - new Set(asked).size;
  console.log(`${KILLS} random kill -9s and --resumes of a 12-turn agent (then one resume to the end, exit ${last}):`);
  const u = usageOf(dir);
  console.log(`  input tokens: served by the API ${served.input} · recorded in run.json ${u.input_tokens} (goal: equal)`);
  console.log(`  output tokens: of every answer the API began ${served.output} · recorded ${u.output_tokens} (the difference: output of streams cut by kill -9, which the API reports only at a stream's end; each message_start's 1 token is counted)`);
  console.log(`  requests: ${asked.length}, of which asked again with the same messages: ${twice} (a call killed before its answer arrived is asked again)`);
  await api.close();
}
