import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentOutput, runExternalAgent } from '../../src/agent/external.js';
import { makeSandbox, put } from './helpers.js';

let root: string;
let ws: string;
const node = process.execPath;

beforeEach(() => {
  ({ root, ws } = makeSandbox('external'));
  put(ws, {
    // a Claude-Code-like agent: reads the prompt, changes a file, prints one JSON result
    'agent.mjs': `
      import { readFileSync, writeFileSync } from 'node:fs';
      const prompt = readFileSync(0, 'utf8');
      writeFileSync('out.txt', 'prompt was: ' + prompt);
      console.log(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'Wrote out.txt', num_turns: 2,
        usage: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 50 }, total_cost_usd: 0.0123, cwd: process.cwd() }));
    `,
    'stream.mjs': `
      console.log(JSON.stringify({ type: 'system', subtype: 'init' }));
      console.log(JSON.stringify({ type: 'assistant', message: { usage: { input_tokens: 1, output_tokens: 1 } } }));
      console.log('some log line');
      console.log(JSON.stringify({ type: 'result', result: 'streamed', usage: { input_tokens: 10, output_tokens: 20, cache_creation_input_tokens: 5 }, total_cost_usd: 0.5 }));
    `,
    'plain.mjs': `console.log('working...'); console.log('All done.'); process.exit(2);`,
    'ignores-stdin.mjs': `console.log('hi');`,
    'hang.mjs': `
      import { spawn } from 'node:child_process';
      spawn(process.execPath, ['-e', "setTimeout(() => require('fs').writeFileSync('grandchild-marker', 'x'), 1200)"], { stdio: 'ignore' });
      setInterval(() => {}, 1000);
    `,
  });
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

const run = (script: string, extra: Partial<Parameters<typeof runExternalAgent>[0]> = {}) =>
  runExternalAgent({ argv: [node, script], prompt: 'Implement the spec.', workspace: ws, signal: new AbortController().signal, ...extra });

describe('runExternalAgent', () => {
  it('passes the prompt on stdin, runs in the workspace, and reads JSON usage and result', async () => {
    const result = await run('agent.mjs');
    expect(result).toMatchObject({
      ok: true,
      exitCode: 0,
      summary: 'Wrote out.txt',
      usage: { input_tokens: 1200, output_tokens: 340, cache_creation_input_tokens: 0, cache_read_input_tokens: 50 },
      cost_usd: 0.0123,
    });
    expect(readFileSync(path.join(ws, 'out.txt'), 'utf8')).toBe('prompt was: Implement the spec.');
    expect(JSON.parse(result.stdout).cwd).toBe(ws);
  });

  it('takes the result line of stream-json output', async () => {
    expect(await run('stream.mjs')).toMatchObject({ ok: true, summary: 'streamed', usage: { input_tokens: 10, output_tokens: 20, cache_creation_input_tokens: 5 }, cost_usd: 0.5 });
  });

  it('falls back to the text of stdout, and reports the exit code', async () => {
    const result = await run('plain.mjs');
    expect(result).toMatchObject({ ok: true, exitCode: 2, summary: 'working...\nAll done.' });
    if (result.ok) expect(result.usage).toBeUndefined();
  });

  it('copes with an agent that does not read its stdin', async () => {
    expect(await run('ignores-stdin.mjs', { prompt: 'x'.repeat(1_000_000) })).toMatchObject({ ok: true, exitCode: 0 });
  });

  it('reports an agent that cannot be started', async () => {
    expect(await runExternalAgent({ argv: ['factory-no-such-agent-xyz'], prompt: '', workspace: ws, signal: new AbortController().signal })).toMatchObject({
      ok: false,
      reason: { kind: 'spawn', program: 'factory-no-such-agent-xyz' },
      message: expect.stringContaining('no such program'),
    });
    expect(await runExternalAgent({ argv: [], prompt: '', workspace: ws, signal: new AbortController().signal })).toMatchObject({ ok: false, reason: { kind: 'spawn' } });
  });

  it('kills the whole process tree on timeout', async () => {
    const result = await run('hang.mjs', { timeoutMs: 300 });
    expect(result).toMatchObject({ ok: false, reason: { kind: 'timeout', afterMs: 300 } });
    await sleep(1500);
    expect(existsSync(path.join(ws, 'grandchild-marker'))).toBe(false);
  });

  it('kills the whole process tree on abort', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await run('hang.mjs', { signal: controller.signal });
    expect(result).toMatchObject({ ok: false, reason: { kind: 'cancelled' } });
    await sleep(1500);
    expect(existsSync(path.join(ws, 'grandchild-marker'))).toBe(false);
  });
});

describe('parseAgentOutput', () => {
  it('reads a whole-output JSON object', () => {
    const out = JSON.stringify({ result: 'ok', usage: { input_tokens: 3, output_tokens: 4 }, cost_usd: 1 }, null, 2);
    expect(parseAgentOutput(out)).toEqual({ summary: 'ok', usage: { input_tokens: 3, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, cost_usd: 1 });
  });

  it('takes the last line with usage when there is no result line', () => {
    const out = ['{"usage":{"input_tokens":1,"output_tokens":1}}', 'text', '{"usage":{"input_tokens":9,"output_tokens":8}}', 'bye'].join('\n');
    expect(parseAgentOutput(out)).toMatchObject({ usage: { input_tokens: 9, output_tokens: 8 }, summary: out });
  });

  it('ignores malformed JSON and nonsense usage values', () => {
    expect(parseAgentOutput('{not json\nplain')).toEqual({ summary: '{not json\nplain' });
    expect(parseAgentOutput('{"type":"result","usage":{"input_tokens":-5,"output_tokens":"many"},"total_cost_usd":"free"}')).toEqual({
      summary: '{"type":"result","usage":{"input_tokens":-5,"output_tokens":"many"},"total_cost_usd":"free"}',
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    expect(parseAgentOutput('')).toEqual({ summary: '' });
  });
});
