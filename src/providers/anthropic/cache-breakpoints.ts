import type { ModelRequest } from '../types.js';

/** The API allows at most this many `cache_control` breakpoints in one request. */
export const MAX_BREAKPOINTS = 4;

const EPHEMERAL = { type: 'ephemeral' } as const;
/** Block types that may carry `cache_control` (thinking blocks may not). */
const MARKABLE = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'search_result']);

type Block = Record<string, unknown>;

const isMarked = (b: unknown) => typeof b === 'object' && b !== null && (b as Block).cache_control != null;
const blocksOf = (content: unknown): unknown[] => (Array.isArray(content) ? content : []);

function countBreakpoints(r: ModelRequest): number {
  let n = (r.tools ?? []).filter(isMarked).length + blocksOf(r.system).filter(isMarked).length;
  for (const m of r.messages) n += blocksOf(m.content).filter(isMarked).length;
  return n;
}

/**
 * A copy of the request with its stable prefix marked for prompt caching
 * (`cache_control: {type: 'ephemeral'}`), within the API's limit of four breakpoints, counting
 * those already there. Marked, most valuable first:
 * - the context files: the block before the last one in the first user message — stage
 *   executors put the context files (each under its path) as the leading blocks of the first
 *   user message and the instruction as its last block;
 * - the conversation so far, on the last block of the last message, once the request carries
 *   an earlier model turn (an agent's tool-use loop re-sends it on every turn);
 * - the system prompt (a string becomes one text block);
 * - the tool definitions (the last tool).
 * Nothing is marked twice; a request with nothing stable comes back unchanged.
 */
export function withCacheBreakpoints(request: ModelRequest): ModelRequest {
  const r = structuredClone(request);
  let left = MAX_BREAKPOINTS - countBreakpoints(r);
  const mark = (block: unknown): void => {
    if (left <= 0 || typeof block !== 'object' || block === null) return;
    const b = block as Block;
    if (b.cache_control != null || !MARKABLE.has(String(b.type))) return;
    b.cache_control = { ...EPHEMERAL };
    left--;
  };

  const first = r.messages[0];
  const firstBlocks = first?.role === 'user' ? blocksOf(first.content) : [];
  if (firstBlocks.length >= 2) mark(firstBlocks[firstBlocks.length - 2]);

  const hasModelTurn = r.messages.some((m) => m.role === 'assistant');
  const last = r.messages[r.messages.length - 1];
  if (hasModelTurn && last && r.messages.length > 1) {
    if (typeof last.content === 'string' && last.content !== '' && left > 0) last.content = [{ type: 'text', text: last.content }];
    const blocks = blocksOf(last.content);
    mark(blocks[blocks.length - 1]);
  }

  if (typeof r.system === 'string' && r.system !== '' && left > 0) r.system = [{ type: 'text', text: r.system }];
  const system = blocksOf(r.system);
  mark(system[system.length - 1]);

  const tools = r.tools ?? [];
  const lastTool = tools[tools.length - 1] as Block | undefined;
  if (lastTool && lastTool.cache_control == null && left > 0) {
    lastTool.cache_control = { ...EPHEMERAL };
    left--;
  }
  return r;
}
