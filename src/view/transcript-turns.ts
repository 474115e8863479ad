import { isRecord } from '../base/is-record.js';
import type { ToolUse, TranscriptItem, Usage } from './model.js';

/**
 * A stage's transcript (`stages/<path>[@i].transcript.jsonl`, src/engine/models/transcript.ts)
 * as turns: each model response with its text, its tool calls and their results (matched by id),
 * a refusal marked (the model's `stop_reason: refusal`, or a tool call refused with a tool
 * error). Requests are left out (the prompt is shown on its own); the other entries — attempts,
 * retries, errors, budget refusals — become one-line notes. Lines that are not JSON are skipped:
 * the last one may be torn while the stage runs.
 */
export function transcriptTurns(text: string): TranscriptItem[] {
  const items: TranscriptItem[] = [];
  const tools = new Map<string, ToolUse>();
  for (const line of text.split('\n')) {
    const entry = parseLine(line);
    if (!entry) continue;
    const type = typeof entry.type === 'string' ? entry.type : '';
    if (type === 'request' || type === 'charge' || type === 'tool_call') continue;
    if (type === 'response') {
      items.push(turn(entry, tools));
      continue;
    }
    if (type === 'tool_result') {
      const use = typeof entry.id === 'string' ? tools.get(entry.id) : undefined;
      if (use) use.result = { content: typeof entry.content === 'string' ? entry.content : JSON.stringify(entry.content), is_error: entry.is_error === true };
      continue;
    }
    items.push({ type: 'note', text: noteText(type, entry) });
  }
  return items;
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (line.trim() === '') return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function turn(entry: Record<string, unknown>, tools: Map<string, ToolUse>): TranscriptItem {
  const message = isRecord(entry.message) ? entry.message : {};
  const content = Array.isArray(message.content) ? message.content : [];
  const text: string[] = [];
  const uses: ToolUse[] = [];
  for (const block of content) {
    if (!isRecord(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') text.push(block.text);
    if (block.type === 'tool_use' && typeof block.id === 'string') {
      const use: ToolUse = { id: block.id, name: typeof block.name === 'string' ? block.name : '?', input: block.input, result: null };
      tools.set(use.id, use);
      uses.push(use);
    }
  }
  const stop = typeof message.stop_reason === 'string' ? message.stop_reason : null;
  return {
    type: 'turn',
    call: typeof entry.call === 'number' ? entry.call : 0,
    text,
    tools: uses,
    stop_reason: stop,
    refusal: stop === 'refusal',
    usage: isRecord(message.usage) ? (message.usage as unknown as Usage) : null,
    cost_usd: typeof entry.cost_usd === 'number' ? entry.cost_usd : null,
  };
}

function noteText(type: string, e: Record<string, unknown>): string {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  if (type === 'attempt') return `attempt ${str(e.attempt)}`;
  if (type === 'retry') return `call ${str(e.call)}: retry ${str(e.retry)} after ${str(e.delay_ms)} ms (${str(e.error)})`;
  if (type === 'error') return `call ${str(e.call)}: error (${str(e.kind)}): ${str(e.message)}`;
  if (type === 'refused') return `call ${str(e.call)}: refused (${str(e.reason)}): ${str(e.message)}`;
  if (type === 'truncated') return `call ${str(e.call)}: cut off at max_tokens ${str(e.max_tokens)}`;
  if (type === 'budget_raised') return `budget raised: ${JSON.stringify(e)}`;
  return `${type || 'entry'}: ${JSON.stringify(e).slice(0, 500)}`;
}
