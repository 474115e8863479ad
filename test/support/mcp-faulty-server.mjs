#!/usr/bin/env node
/**
 * A small MCP server over stdio that misbehaves on purpose, speaking JSON-RPC by hand so it can
 * break the protocol. The mode is argv[2]:
 *   ok            answers initialize, tools/list and tools/call (`boom` echoes its input)
 *   exit-at-start writes to stderr and exits 3 before reading anything
 *   hang-init     never answers initialize, ignores SIGTERM and the end of stdin
 *   malformed     answers tools/call with a result whose `content` is not a list
 *   die-mid-call  exits 4 in the middle of tools/call
 * FAULTY_PID_FILE: where it writes its pid. FAULTY_ECHO: written to stderr at start. FAULTY_TOOLS: comma-separated tool names (default boom).
 * A TRACEPARENT it was given is written to stderr at start.
 */
import { writeFileSync } from 'node:fs';

const mode = process.argv[2] ?? 'ok';
if (process.env.FAULTY_PID_FILE) writeFileSync(process.env.FAULTY_PID_FILE, String(process.pid));
process.stderr.write(`faulty server (${mode}) started\n`);
if (process.env.FAULTY_ECHO) process.stderr.write(`echo: ${process.env.FAULTY_ECHO}\n`);
if (process.env.TRACEPARENT) process.stderr.write(`traceparent: ${process.env.TRACEPARENT}\n`);

if (mode === 'exit-at-start') {
  process.stderr.write('fatal: cannot open the database\n');
  process.exit(3);
}
if (mode === 'hang-init') {
  process.on('SIGTERM', () => process.stderr.write('ignoring SIGTERM\n'));
  setInterval(() => {}, 1000);
}

const send = (message) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
const tools = (process.env.FAULTY_TOOLS ?? 'boom').split(',');

let buffer = '';
process.stdin.on('data', (chunk) => {
  buffer += chunk.toString('utf8');
  let nl;
  while ((nl = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    if (line.trim() !== '') answer(JSON.parse(line));
  }
});

function answer(request) {
  if (request.id === undefined) return; // a notification
  if (mode === 'hang-init') return;
  switch (request.method) {
    case 'initialize':
      return send({ id: request.id, result: { protocolVersion: request.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'faulty', version: '1.0.0' } } });
    case 'tools/list':
      return send({ id: request.id, result: { tools: tools.map((name) => ({ name, description: `the ${name} tool`, inputSchema: { type: 'object', properties: { say: { type: 'string' } } } })) } });
    case 'tools/call':
      if (mode === 'malformed') return send({ id: request.id, result: { content: 'not a list' } });
      if (mode === 'die-mid-call') {
        process.stderr.write('segmentation fault (simulated)\n');
        process.exit(4);
      }
      return send({ id: request.id, result: { content: [{ type: 'text', text: `boom says ${request.params.arguments?.say ?? 'nothing'}` }] } });
    default:
      return send({ id: request.id, error: { code: -32601, message: `no method ${request.method}` } });
  }
}
