import type { ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import { TOOL_NAMES, mcpTools, parseMcpRef, type ExtraTool, type McpToolRef } from '../agent/tools/index.js';
import type { GenerateStage } from '../config/generated/factory.js';
import type { StageContext } from '../engine/executor.js';
import type { Reason } from '../records/reasons.js';
import { stageError, type Got } from './model-input.js';

/** The provider's server-side web tools, as the Messages API names their current versions. */
export const WEB_TOOLS = { web_search: 'web_search_20250305', web_fetch: 'web_fetch_20250910' } as const;
export type WebToolName = keyof typeof WEB_TOOLS;
/** A web tool's definition as the request carries it. */
export type WebToolDefinition = ToolUnion & { name: WebToolName };
/** Providers that run web tools themselves (replay answers with what they did when recorded). */
const WEB_PROVIDERS = new Set(['anthropic', 'replay']);

/** A generate stage's `tools`, sorted by who answers them. */
export interface StageTools {
  builtins: string[];
  web: WebToolName[];
  mcp: McpToolRef[];
}

export function splitTools(names: readonly string[]): StageTools {
  const out: StageTools = { builtins: [], web: [], mcp: [] };
  for (const name of names) {
    const ref = parseMcpRef(name);
    if (ref) out.mcp.push(ref);
    else if (name in WEB_TOOLS) out.web.push(name as WebToolName);
    else if ((TOOL_NAMES as readonly string[]).includes(name)) out.builtins.push(name);
  }
  return out;
}

/** The web tools' definitions for the request, with the stage's `web:` settings. */
export function webToolDefinitions(ctx: StageContext, provider: string, names: readonly WebToolName[]): Got<WebToolDefinition[]> {
  if (names.length === 0) return { ok: true, value: [] };
  if (!WEB_PROVIDERS.has(provider)) {
    return { ok: false, result: stageError({ kind: 'config' }, `stage "${ctx.node.path}" lists ${names.join(' and ')}, which the provider "${provider}" does not run; use provider anthropic, or take ${names.length > 1 ? 'them' : 'it'} out of \`tools\``) };
  }
  const web = (ctx.node.def as GenerateStage).web ?? {};
  const settings = {
    ...(web.allowed_domains ? { allowed_domains: web.allowed_domains } : {}),
    ...(web.blocked_domains ? { blocked_domains: web.blocked_domains } : {}),
    ...(web.max_uses !== undefined ? { max_uses: web.max_uses } : {}),
  };
  return { ok: true, value: names.map((name) => ({ type: WEB_TOOLS[name], name, ...settings }) as WebToolDefinition) };
}

/** The stage's MCP tools, starting their servers; a server that cannot start is the stage's error. */
export async function stageMcpTools(ctx: StageContext, refs: readonly McpToolRef[]): Promise<Got<ExtraTool[]>> {
  if (refs.length === 0) return { ok: true, value: [] };
  if (!ctx.mcp) return { ok: false, result: stageError({ kind: 'config' }, `stage "${ctx.node.path}" lists MCP tools, but the pipeline has no \`mcp_servers\``) };
  const got = await mcpTools(refs, ctx.mcp, ctx.signal);
  if (!got.ok) return { ok: false, result: stageError(mcpReason(ctx, got.reason, got.server), `stage "${ctx.node.path}": ${got.message}`) };
  return { ok: true, value: got.tools };
}

/** A server that could not start is a `spawn` of its program (or its URL). */
function mcpReason(ctx: StageContext, reason: 'spawn' | 'config' | 'cancelled', server: string): Reason {
  if (reason !== 'spawn') return { kind: reason };
  const config = ctx.pipeline.config.mcp_servers?.[server];
  return { kind: 'spawn', program: config?.command?.[0] ?? config?.url ?? `mcp:${server}` };
}

/** The first name given to two tools, refused before the first call: the model could not tell them apart. */
export function clashOf(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

