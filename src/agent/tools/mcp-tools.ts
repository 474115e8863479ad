import type { Tool } from '@anthropic-ai/sdk/resources/messages';
import type { McpServers, McpToolInfo } from './mcp-servers.js';
import { fail, ok, type ToolResult } from './types.js';

/** A tool the ToolSet answers with code outside src/agent/tools' built-ins (an MCP server's). */
export interface ExtraTool {
  definition: Tool;
  run(input: unknown): Promise<ToolResult>;
}

/** `mcp:NAME` or `mcp:NAME/TOOL` in a stage's `tools`. */
export interface McpToolRef {
  server: string;
  tool?: string;
}

const MCP_REF = /^mcp:([a-z][a-z0-9_-]*)(?:\/(.+))?$/;

export function parseMcpRef(entry: string): McpToolRef | undefined {
  const m = MCP_REF.exec(entry);
  if (!m) return undefined;
  return m[2] === undefined ? { server: m[1]! } : { server: m[1]!, tool: m[2] };
}

/** The name the model sees: `NAME__TOOL`, with characters the Messages API refuses in tool names made `_`. */
export function qualifiedName(server: string, tool: string): string {
  return `${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
}

export type McpTools = { ok: true; tools: ExtraTool[] } | { ok: false; reason: 'spawn' | 'config' | 'cancelled'; server: string; message: string };

/**
 * Starts the servers the refs name (each once) and makes one tool per server tool asked for,
 * with the server's input schema. A server that cannot start, or a `mcp:NAME/TOOL` the server
 * does not have, is the stage's error.
 */
export async function mcpTools(refs: readonly McpToolRef[], servers: McpServers, signal: AbortSignal): Promise<McpTools> {
  const byServer = new Map<string, Set<string> | 'all'>();
  for (const ref of refs) {
    const had = byServer.get(ref.server);
    if (ref.tool === undefined || had === 'all') byServer.set(ref.server, 'all');
    else byServer.set(ref.server, new Set([...(had ?? []), ref.tool]));
  }
  const out: ExtraTool[] = [];
  for (const [server, wanted] of byServer) {
    const started = await servers.start(server, signal);
    if (!started.ok) return { ok: false, reason: signal.aborted ? 'cancelled' : 'spawn', server, message: started.message };
    const have = new Map(started.tools.map((t) => [t.name, t]));
    const picked = wanted === 'all' ? started.tools : [...wanted].map((name) => have.get(name));
    const missing = wanted === 'all' ? [] : [...wanted].filter((name) => !have.has(name));
    if (missing.length > 0) {
      return { ok: false, reason: 'config', server, message: `MCP server "${server}" has no tool ${missing.map((m) => `"${m}"`).join(', ')}; its tools are ${[...have.keys()].join(', ') || '(none)'}` };
    }
    for (const info of picked) if (info) out.push(toolOf(server, info, servers, signal));
  }
  return { ok: true, tools: out };
}

function toolOf(server: string, info: McpToolInfo, servers: McpServers, signal: AbortSignal): ExtraTool {
  const { $schema: _dialect, ...schema } = info.inputSchema;
  return {
    definition: { name: qualifiedName(server, info.name), description: info.description || `${info.name} (MCP server ${server})`, input_schema: schema as Tool['input_schema'] },
    async run(input) {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail(`${qualifiedName(server, info.name)}: the input must be an object`);
      const r = await servers.call(server, info.name, input as Record<string, unknown>, signal);
      if (!r.ok) return fail(r.message);
      return resultText(r.result);
    },
  };
}

interface ContentItem {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; text?: string; mimeType?: string };
}

/** An MCP CallToolResult as the text of a tool_result; `isError: true` makes it a tool error. */
export function resultText(result: unknown): ToolResult {
  const r = result as { content?: ContentItem[]; structuredContent?: unknown; isError?: boolean; toolResult?: unknown };
  const parts = (r.content ?? []).map(describeItem);
  if (parts.length === 0 && r.structuredContent !== undefined) parts.push(JSON.stringify(r.structuredContent));
  if (parts.length === 0 && r.toolResult !== undefined) parts.push(JSON.stringify(r.toolResult));
  const text = parts.join('\n');
  return r.isError === true ? fail(text || 'the tool reported an error') : ok(text);
}

function describeItem(item: ContentItem): string {
  switch (item.type) {
    case 'text':
      return item.text ?? '';
    case 'image':
    case 'audio':
      return `[${item.type} ${item.mimeType ?? ''}, ${Math.floor(((item.data ?? '').length * 3) / 4)} bytes]`;
    case 'resource':
      return item.resource?.text ?? `[resource ${item.resource?.uri ?? ''}]`;
    case 'resource_link':
      return `[resource link ${item.name ?? ''} ${item.uri ?? ''}]`.replace(/\s+]/, ']');
    default:
      return `[${item.type}]`;
  }
}
