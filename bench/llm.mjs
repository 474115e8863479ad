#!/usr/bin/env node
// Model stages against the fake Messages API of the tests (test/support/fake-anthropic.ts),
// through the built CLI and the real SDK. Prints:
//  1. two independent plan stages, each answered after 1 s of latency: the run's wall time
//     (goal < 1.5 s: the calls overlap);
//  2. the engine's overhead per agent turn: a generate stage of TURNS tool turns against the
//     same number of bare SDK calls (streaming, as the provider makes them) to the same server,
//     as ms per turn and a ratio;
//  2b. the same on the openai provider (test/support/fake-openai.ts), on the Responses API and on
//     Chat Completions, against bare streaming calls of the `openai` SDK;
//  3. prompt estimates against the tokenizer;
//  4. the sandbox's cost: a run_command (SANDBOX_CALLS turns of `true`) and a chain of
//     SANDBOX_CALLS command stages, sandboxed against unsandboxed in the same run, as ms per
//     program and a ratio (needs bubblewrap, socat and ripgrep; skipped with a note without them);
//  5. an MCP tool call against a built-in one in the same stage, and an MCP server's start.
// Figures only; nothing is asserted. Run `npm run build` first.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tempDir } from './lib/temp.mjs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { BIN, fmt, median } from './lib/measure.mjs';
import { loadFakeAnthropic } from './lib/fake-anthropic.mjs';
import { loadFakeOpenAI } from './lib/fake-openai.mjs';

const TURNS = Number(process.env.BENCH_TURNS ?? 20);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const KEY = 'sk-ant-bench';
const { startFakeAnthropic, textMessage, toolUseMessage } = await loadFakeAnthropic();
const Anthropic = createRequire(import.meta.url)('@anthropic-ai/sdk').default;

function apply(dir, url, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, 'apply', '--json', '--no-cache'], { cwd: dir, env: { ...process.env, ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: url, CI: '1', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`factory exited ${code}: ${err.slice(0, 800)}`));
      const events = out.trim().split('\n').map((l) => JSON.parse(l));
      resolve({ wall, events });
    });
  });
}

function workspace(yaml, files = {}) {
  const dir = tempDir('factory-bench-llm-');
  writeFileSync(path.join(dir, 'factory.yaml'), yaml);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

// 1. Two plan stages, 1 s of latency each.
{
  const api = await startFakeAnthropic({ rules: [{ reply: { ...textMessage('A plan.'), latencyMs: 1000 } }] });
  const dir = workspace(`version: 1
name: two-plans
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
stages:
  a: { kind: plan, prompt: Plan A. }
  b: { kind: plan, prompt: Plan B. }
`);
  const runs = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await apply(dir, api.url));
  await api.close();
  const stageSpan = (events) => {
    const starts = events.filter((e) => e.type === 'stage_started').map((e) => Date.parse(e.time));
    const ends = events.filter((e) => e.type === 'stage_finished').map((e) => Date.parse(e.time));
    return Math.max(...ends) - Math.min(...starts);
  };
  const both = median(runs.map((r) => stageSpan(r.events)));
  const wall = median(runs.map((r) => r.wall));
  console.log(`two independent plan stages, 1 s of latency each:`);
  console.log(`  both stages done in ${fmt(both)} (goal < 1.5 s; sequential would be ≥ 2 s)`);
  console.log(`  whole \`factory apply\` process: ${fmt(wall)} (Node start, config, SDK load, preflight included)`);
}

// 2. Overhead per agent turn.
{
  const note = 'export const x = 1;\n';
  const reply = (req) => {
    const turns = (req.body?.messages ?? []).filter((m) => m.role === 'assistant').length;
    if (turns >= TURNS - 1) return textMessage('Done.', { input_tokens: 200, output_tokens: 5 });
    return toolUseMessage([{ name: 'read_file', input: { path: 'note.js' } }], { input_tokens: 200, output_tokens: 20 });
  };
  const api = await startFakeAnthropic({ rules: [{ reply }] });
  const dir = workspace(`version: 1
name: agent-turns
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
stages:
  gen:
    kind: generate
    prompt: Read note.js again and again.
    max_turns: ${TURNS + 5}
`, { 'note.js': note });
  const engine = [];
  for (let i = 0; i < REPEAT; i++) {
    const { events } = await apply(dir, api.url);
    const done = events.find((e) => e.type === 'stage_finished' && e.stage === 'gen');
    const calls = events.filter((e) => e.type === 'model_call').length;
    if (calls !== TURNS) throw new Error(`expected ${TURNS} model calls, saw ${calls}`);
    engine.push(done.duration_ms / TURNS);
  }

  // The same conversation, bare: TURNS streaming SDK calls, tool results made up in place.
  const client = new Anthropic({ apiKey: KEY, baseURL: api.url, maxRetries: 0 });
  const bare = [];
  for (let i = 0; i < REPEAT; i++) {
    const messages = [{ role: 'user', content: 'Read note.js again and again.' }];
    const start = process.hrtime.bigint();
    for (let t = 0; t < TURNS; t++) {
      const message = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 256, messages }).finalMessage();
      messages.push({ role: 'assistant', content: message.content });
      const uses = message.content.filter((b) => b.type === 'tool_use');
      if (uses.length === 0) break;
      messages.push({ role: 'user', content: uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: note })) });
    }
    bare.push(Number(process.hrtime.bigint() - start) / 1e6 / TURNS);
  }
  await api.close();
  const e = median(engine);
  const b = median(bare);
  console.log(`agent turns (${TURNS} tool turns, median of ${REPEAT}):`);
  console.log(`  factory generate stage: ${e.toFixed(2)} ms/turn`);
  console.log(`  bare SDK calls:         ${b.toFixed(2)} ms/turn`);
  console.log(`  engine overhead:        ${(e - b).toFixed(2)} ms/turn (ratio ${(e / b).toFixed(2)}×)`);
}

// 2b. Overhead per agent turn on the openai provider, each API against bare SDK calls.
{
  const fake = await loadFakeOpenAI();
  const OpenAI = createRequire(import.meta.url)('openai').default;
  const note = 'export const x = 1;\n';
  const turnsOf = (body) => JSON.stringify(body ?? {}).split(/"function_call_output"|"role":"tool"/).length - 1;
  const reply = (req) => {
    if (turnsOf(req.body) >= TURNS - 1) return fake.textMessage('Done.', { input_tokens: 200, output_tokens: 5 }, 'gpt-5.4-mini');
    return fake.toolUseMessage([{ name: 'read_file', input: { path: 'note.js' } }], { input_tokens: 200, output_tokens: 20 }, { model: 'gpt-5.4-mini' });
  };
  console.log(`agent turns on the openai provider (${TURNS} tool turns, median of ${REPEAT}):`);
  for (const which of ['responses', 'chat']) {
    const api = await fake.startFakeOpenAI({ rules: [{ reply }] });
    const dir = workspace(`version: 1
name: agent-turns-openai
defaults: { provider: openai, model: gpt-5.4-mini, max_tokens: 256 }
providers: { openai: { base_url: "${api.url}", api: ${which} } }
stages:
  gen:
    kind: generate
    prompt: Read note.js again and again.
    max_turns: ${TURNS + 5}
`, { 'note.js': note });
    const engine = [];
    for (let i = 0; i < REPEAT; i++) {
      const { events } = await apply(dir, api.url, { OPENAI_API_KEY: KEY });
      const done = events.find((e) => e.type === 'stage_finished' && e.stage === 'gen');
      const calls = events.filter((e) => e.type === 'model_call').length;
      if (calls !== TURNS) throw new Error(`expected ${TURNS} model calls, saw ${calls}`);
      engine.push(done.duration_ms / TURNS);
    }
    // The same conversation, bare: TURNS streaming SDK calls in that API's words.
    const client = new OpenAI({ apiKey: KEY, baseURL: api.url, maxRetries: 0 });
    const tool = { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } };
    const bare = [];
    for (let i = 0; i < REPEAT; i++) {
      const start = process.hrtime.bigint();
      if (which === 'chat') {
        const messages = [{ role: 'user', content: 'Read note.js again and again.' }];
        for (let t = 0; t < TURNS; t++) {
          const stream = await client.chat.completions.create({ model: 'gpt-5.4-mini', max_completion_tokens: 256, messages, tools: [{ type: 'function', function: tool }], stream: true, stream_options: { include_usage: true } });
          const calls = new Map();
          for await (const chunk of stream) for (const c of chunk.choices[0]?.delta?.tool_calls ?? []) calls.set(c.index, { ...calls.get(c.index), ...(c.id ? { id: c.id } : {}), args: (calls.get(c.index)?.args ?? '') + (c.function?.arguments ?? '') });
          if (calls.size === 0) break;
          messages.push({ role: 'assistant', content: null, tool_calls: [...calls.values()].map((c) => ({ id: c.id, type: 'function', function: { name: 'read_file', arguments: c.args } })) });
          for (const c of calls.values()) messages.push({ role: 'tool', tool_call_id: c.id, content: note });
        }
      } else {
        const input = [{ role: 'user', content: 'Read note.js again and again.' }];
        for (let t = 0; t < TURNS; t++) {
          const stream = await client.responses.create({ model: 'gpt-5.4-mini', max_output_tokens: 256, input, tools: [{ type: 'function', strict: false, ...tool }], store: false, stream: true });
          let last;
          for await (const event of stream) if (event.type === 'response.completed') last = event.response;
          const calls = last.output.filter((o) => o.type === 'function_call');
          if (calls.length === 0) break;
          for (const c of calls) input.push({ type: 'function_call', call_id: c.call_id, name: c.name, arguments: c.arguments }, { type: 'function_call_output', call_id: c.call_id, output: note });
        }
      }
      bare.push(Number(process.hrtime.bigint() - start) / 1e6 / TURNS);
    }
    await api.close();
    const e = median(engine);
    const b = median(bare);
    console.log(`  ${which.padEnd(9)} factory ${e.toFixed(2)} ms/turn · bare SDK ${b.toFixed(2)} ms/turn · engine overhead ${(e - b).toFixed(2)} ms/turn (ratio ${(e / b).toFixed(2)}×)`);
  }
}

// 3. The prompt estimate the budget reserves against, next to Claude's published tokenizer
//    (@anthropic-ai/tokenizer, an older vocabulary): characters ÷ 4 (what the engine used before)
//    and the upper bound it uses now (src/providers/token-estimate.ts). Negative = undershoot.
{
  const { countTokens } = await import('@anthropic-ai/tokenizer');
  const { readFileSync } = await import('node:fs');
  const { tokenUpperBound } = await import('../dist/providers/token-estimate.js');
  const here = (p) => new URL(p, import.meta.url);
  const corpora = {
    English: readFileSync(here('../README.md'), 'utf8'),
    code: readFileSync(here('../src/engine/budget/budget.ts'), 'utf8'),
    'Chinese (CJK)': '预算永远不能超支。模型的回答被截断时，绝不能当作完整的答案。每个请求都必须有截止时间。'.repeat(60),
    Japanese: '予算を超えてはいけません。最大トークンで切れた回答は完全な回答として扱いません。'.repeat(60),
  };
  const pct = (est, real) => `${(((est - real) / real) * 100).toFixed(0)}%`.padStart(6);
  console.log(`prompt estimates against the tokenizer (error: + over, - under):`);
  for (const [name, text] of Object.entries(corpora)) {
    const real = countTokens(text);
    const quarter = Math.ceil(text.length / 4);
    const bound = tokenUpperBound(text);
    console.log(`  ${name.padEnd(14)} ${String(real).padStart(6)} tokens · chars÷4 ${pct(quarter, real)} · upper bound ${pct(bound, real)}`);
  }
}

// 4. The sandbox's overhead per program, sandboxed against unsandboxed, same run, same machine.
{
  const N = Number(process.env.SANDBOX_CALLS ?? 10);
  const { findProgram } = await import('../dist/base/find-program.js');
  const missing = ['bwrap', 'socat', 'rg'].filter((p) => !findProgram(p, process.env.PATH));
  if (process.platform !== 'linux' || missing.length > 0) {
    console.log(`sandbox overhead: skipped (${process.platform !== 'linux' ? process.platform : `no ${missing.join(', ')}`})`);
  } else {
    const reply = (req) => {
      const turns = (req.body?.messages ?? []).filter((m) => m.role === 'assistant').length;
      if (turns >= N) return textMessage('Done.', { input_tokens: 200, output_tokens: 5 });
      return toolUseMessage([{ name: 'run_command', input: { command: 'true' } }], { input_tokens: 200, output_tokens: 20 });
    };
    const api = await startFakeAnthropic({ rules: [{ reply }] });
    const agent = (sandbox) => workspace(`version: 1
name: sandbox-agent
sandbox: ${sandbox}
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
stages:
  gen: { kind: generate, prompt: Run true., commands: ["true"], max_turns: ${N + 5} }
`);
    const chain = (sandbox) => workspace(`version: 1
name: sandbox-commands
sandbox: ${sandbox}
stages:
  warm: { kind: command, run: ["true"] }
${Array.from({ length: N }, (_, i) => `  c${i}: { kind: command, needs: [${i === 0 ? 'warm' : `c${i - 1}`}], run: ["true"] }`).join('\n')}
`);
    const stageMs = (events, pick) => events.filter((e) => e.type === 'stage_finished' && pick(e.stage)).reduce((sum, e) => sum + e.duration_ms, 0);
    const dirs = { agent: { on: agent(true), off: agent(false) }, chain: { on: chain(true), off: chain(false) } };
    const ms = { agent: { on: [], off: [] }, chain: { on: [], off: [] }, first: [] };
    for (let i = 0; i < REPEAT; i++) {
      // Interleaved, so that a change in the machine's load falls on both sides.
      for (const side of ['off', 'on']) {
        const a = await apply(dirs.agent[side], api.url);
        ms.agent[side].push(stageMs(a.events, (s) => s === 'gen') / N);
        const c = await apply(dirs.chain[side], api.url);
        ms.chain[side].push(stageMs(c.events, (s) => s !== 'warm') / N);
        if (side === 'on') ms.first.push(stageMs(c.events, (s) => s === 'warm'));
      }
    }
    await api.close();
    const line = (name, on, off) => console.log(`  ${name}: ${on.toFixed(1)} ms sandboxed, ${off.toFixed(1)} ms not: +${(on - off).toFixed(1)} ms per program (ratio ${(on / off).toFixed(2)}×)`);
    console.log(`sandbox overhead (${N} programs of \`true\` per run, median of ${REPEAT}):`);
    line('run_command turn (model call included)', median(ms.agent.on), median(ms.agent.off));
    line('command stage', median(ms.chain.on), median(ms.chain.off));
    console.log(`  first sandboxed program of a run (starts the runtime's proxies): ${fmt(median(ms.first))}`);
  }
}

// 5. An MCP tool call against a built-in tool call, in the same run and the same stage: the
//    agent alternates read_file and server-everything's `echo` over stdio (the real server),
//    TURNS turns; each call's time is the `ms` of its tool_result in the stage's transcript.
//    Also the server's start, as a stage that starts it against the same stage without MCP tools.
{
  const { fileURLToPath } = await import('node:url');
  const { readFileSync } = await import('node:fs');
  const everything = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
  const stageOf = (req) => /STAGE=(\w+)/.exec(JSON.stringify(req.body?.messages?.[0] ?? ''))?.[1];
  const reply = (req) => {
    const turns = (req.body?.messages ?? []).filter((m) => m.role === 'assistant').length;
    if (stageOf(req) !== 'calls' || turns >= TURNS) return textMessage('Done.', { input_tokens: 200, output_tokens: 5 });
    const call = turns % 2 === 1 ? { name: 'everything__echo', input: { message: 'export const x = 1;' } } : { name: 'read_file', input: { path: 'note.js' } };
    return toolUseMessage([call], { input_tokens: 200, output_tokens: 20 });
  };
  const api = await startFakeAnthropic({ rules: [{ reply }] });
  const tools = '[read_file, mcp:everything/echo]';
  const dir = workspace(`version: 1
name: mcp-overhead
defaults: { model: claude-sonnet-5-5, max_tokens: 256 }
mcp_servers:
  everything: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(everything)}, stdio] }
stages:
  plain: { kind: generate, prompt: STAGE=plain, tools: [read_file] }
  cold: { kind: generate, needs: [plain], prompt: STAGE=cold, tools: ${tools} }
  calls: { kind: generate, needs: [cold], prompt: STAGE=calls, tools: ${tools}, max_turns: ${TURNS + 5} }
`, { 'note.js': 'export const x = 1;\n' });
  const per = { start: [], read_file: [], everything__echo: [] };
  for (let i = 0; i < REPEAT; i++) {
    const { events } = await apply(dir, api.url);
    const ms = (id) => events.find((e) => e.type === 'stage_finished' && e.stage === id).duration_ms;
    per.start.push(ms('cold') - ms('plain'));
    const record = events.find((e) => e.type === 'run_finished').record;
    const lines = readFileSync(path.join(record, 'stages', 'calls.transcript.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const e of lines) if (e.type === 'tool_result') per[e.name].push(e.ms);
  }
  await api.close();
  const b = median(per.read_file);
  const m = median(per.everything__echo);
  console.log(`MCP tool calls against built-in ones (same stage, ${per.everything__echo.length} echo and ${per.read_file.length} read_file calls over ${REPEAT} runs, medians):`);
  console.log(`  built-in read_file:                       ${b.toFixed(2)} ms/call`);
  console.log(`  MCP echo (server-everything over stdio):  ${m.toFixed(2)} ms/call`);
  console.log(`  MCP call overhead:                        ${(m - b).toFixed(2)} ms/call (ratio ${(m / b).toFixed(1)}×)`);
  console.log(`  server start (spawn, initialize, tools/list; once a run): ${fmt(median(per.start))}`);
}
