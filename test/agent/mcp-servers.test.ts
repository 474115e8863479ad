import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { checkMcpServer, mcpTools, McpServers } from '../../src/agent/tools/index.js';
import { expandAll } from '../../src/agent/tools/mcp-servers.js';
import type { StartProcess } from '../../src/records/events.js';
import { makeSandbox, put } from './helpers.js';

const FAULTY = fileURLToPath(new URL('../support/mcp-faulty-server.mjs', import.meta.url));
const EVERYTHING = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('McpServers', () => {
  test('a streamable-HTTP server (server-everything on loopback): tools listed with their schemas, a call answered', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    started.push(child);
    await new Promise<void>((resolve) => child.stderr!.on('data', (c: Buffer) => c.toString().includes('listening') && resolve()));
    const { ws } = makeSandbox('mcp-http');
    const servers = new McpServers({ servers: { everything: { url: `http://127.0.0.1:${port}/mcp` } }, dir: ws, logDir: path.join(ws, 'logs') });
    try {
      const got = await mcpTools([{ server: 'everything', tool: 'echo' }], servers, new AbortController().signal);
      expect(got.ok).toBe(true);
      if (!got.ok) return;
      expect(got.tools.map((t) => t.definition.name)).toEqual(['everything__echo']);
      expect(got.tools[0]!.definition.input_schema).toMatchObject({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] });
      expect(got.tools[0]!.definition.input_schema).not.toHaveProperty('$schema');
      expect(await got.tools[0]!.run({ message: 'over http' })).toEqual({ ok: true, text: 'Echo: over http' });
    } finally {
      await servers.close();
    }
  }, 30_000);

  test('close() during a start that waits for initialize ends the start and kills the server', async () => {
    const { ws } = makeSandbox('mcp-close');
    const pidFile = path.join(ws, 'pid');
    const servers = new McpServers({ servers: { slow: { command: [process.execPath, FAULTY, 'hang-init'], env: { FAULTY_PID_FILE: pidFile } } }, dir: ws, logDir: path.join(ws, 'logs') });
    const start = servers.start('slow', new AbortController().signal);
    while (!existsSync(pidFile)) await new Promise((r) => setTimeout(r, 20));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await servers.close();
    const got = await start;
    expect(got.ok).toBe(false);
    // Gone, and reaped: a killed child is visible to kill(0) until its parent's loop collects it.
    for (let waited = 0; alive(pid) && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
    expect(readFileSync(path.join(ws, 'logs', 'slow.stderr.log'), 'utf8')).toContain('faulty server (hang-init) started');
  }, 30_000);

  test('one server serves every stage that asks: it starts once', async () => {
    const { ws } = makeSandbox('mcp-once');
    const pidFile = path.join(ws, 'pid');
    const servers = new McpServers({ servers: { f: { command: [process.execPath, FAULTY, 'ok'], env: { FAULTY_PID_FILE: pidFile } } }, dir: ws, logDir: path.join(ws, 'logs') });
    try {
      const signal = new AbortController().signal;
      const [a, b] = await Promise.all([servers.start('f', signal), servers.start('f', signal)]);
      expect(a).toEqual(b);
      expect(a.ok).toBe(true);
    } finally {
      await servers.close();
    }
    // The log is complete once the servers are closed.
    const log = readFileSync(path.join(ws, 'logs', 'f.stderr.log'), 'utf8');
    expect(log.match(/started/g)).toHaveLength(1);
  }, 30_000);

  test('a stdio server is told to the run as a process: its env gets the TRACEPARENT the run gives, and its end is told once', async () => {
    const { ws } = makeSandbox('mcp-trace');
    const told: string[] = [];
    const startProcess: StartProcess = (program, role) => {
      told.push(`start ${path.basename(program)} ${role}`);
      return { env: { TRACEPARENT: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, end: (how) => told.push(`end ${JSON.stringify(how)}`) };
    };
    const servers = new McpServers({ servers: { f: { command: [process.execPath, FAULTY, 'ok'] } }, dir: ws, logDir: path.join(ws, 'logs'), startProcess });
    try {
      expect((await servers.start('f', new AbortController().signal)).ok).toBe(true);
    } finally {
      await servers.close();
    }
    expect(told).toEqual([`start ${path.basename(process.execPath)} mcp`, 'end {}']);
    expect(readFileSync(path.join(ws, 'logs', 'f.stderr.log'), 'utf8')).toContain('traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  }, 30_000);
});

test('a server that died during one stage is started afresh for the next', async () => {
  const { ws } = makeSandbox('mcp-restart');
  const pidFile = path.join(ws, 'pid');
  const servers = new McpServers({ servers: { d: { command: [process.execPath, FAULTY, 'die-mid-call'], env: { FAULTY_PID_FILE: pidFile } } }, dir: ws, logDir: path.join(ws, 'logs') });
  const signal = new AbortController().signal;
  try {
    expect((await servers.start('d', signal)).ok).toBe(true);
    const first = readFileSync(pidFile, 'utf8');
    const died = await servers.call('d', 'boom', {}, signal);
    expect(died).toMatchObject({ ok: false, message: expect.stringContaining('segmentation fault (simulated)') });
    expect(await servers.call('d', 'boom', {}, signal)).toMatchObject({ ok: false, message: expect.stringMatching(/^MCP server "d" is not running/) });
    expect((await servers.start('d', signal)).ok).toBe(true);
    expect(readFileSync(pidFile, 'utf8')).not.toBe(first);
  } finally {
    await servers.close();
  }
}, 30_000);

describe('checkMcpServer (for factory doctor)', () => {
  test('a program on PATH, a script by path, a missing program, a file that cannot run, a url', () => {
    const { ws } = makeSandbox('mcp-check');
    put(ws, { 'bin/server.sh': '#!/bin/sh\n', 'bin/plain.txt': 'x' });
    chmodSync(path.join(ws, 'bin/server.sh'), 0o755);
    const env = { PATH: path.dirname(process.execPath) };
    expect(checkMcpServer('n', { command: [path.basename(process.execPath), 'x.js'] }, ws, env)).toEqual({ ok: true, detail: `MCP server "n": ${process.execPath}` });
    expect(checkMcpServer('s', { command: ['./server.sh'], cwd: 'bin' }, ws, env)).toEqual({ ok: true, detail: `MCP server "s": ${path.join(ws, 'bin/server.sh')}` });
    expect(checkMcpServer('m', { command: ['no-such-mcp-server'] }, ws, env)).toEqual({
      ok: false,
      detail: 'MCP server "m": the command "no-such-mcp-server" is not on PATH',
      fix: 'install "no-such-mcp-server", or give its full path in mcp_servers.m.command',
    });
    expect(checkMcpServer('p', { command: ['bin/plain.txt'] }, ws, env)).toMatchObject({ ok: false, detail: `MCP server "p": the command "bin/plain.txt" is not an executable file (looked in ${ws})` });
    expect(checkMcpServer('u', { url: 'http://127.0.0.1:9/mcp' }, ws, env)).toEqual({ ok: true, detail: 'MCP server "u": http://127.0.0.1:9/mcp' });
  });

  test('${NAME} in env and headers reads factory\'s environment; unknown names become empty', () => {
    expect(expandAll({ Authorization: 'Bearer ${GH_TOKEN}', X: '${NOPE}-${HOME}' }, { GH_TOKEN: 't0k', HOME: '/h' })).toEqual({ Authorization: 'Bearer t0k', X: '-/h' });
  });
});
