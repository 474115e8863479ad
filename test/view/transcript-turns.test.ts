import { describe, expect, it } from 'vitest';
import { transcriptTurns } from '../../src/view/transcript-turns.js';

const lines = (...entries: unknown[]) => entries.map((e) => JSON.stringify(e)).join('\n');
const response = (call: number, content: unknown[], stop = 'tool_use') => ({ type: 'response', call, cost_usd: 0.01, message: { content, stop_reason: stop, usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } });

describe('transcriptTurns', () => {
  it('makes a turn of each response, with its tool calls and their results matched by id', () => {
    const items = transcriptTurns(
      lines(
        { type: 'attempt', attempt: 1 },
        { type: 'request', call: 1, request: {} },
        response(1, [{ type: 'text', text: 'Reading.' }, { type: 'tool_use', id: 'a', name: 'read_file', input: { path: 'x' } }]),
        { type: 'tool_call', id: 'a', name: 'read_file', input: { path: 'x' } },
        { type: 'tool_result', id: 'a', name: 'read_file', is_error: false, content: 'text of x' },
        response(2, [{ type: 'text', text: 'Done.' }], 'end_turn'),
      ),
    );
    expect(items.map((i) => i.type)).toEqual(['note', 'turn', 'turn']);
    const first = items[1]!;
    if (first.type !== 'turn') throw new Error('a turn');
    expect(first.text).toEqual(['Reading.']);
    expect(first.tools).toEqual([{ id: 'a', name: 'read_file', input: { path: 'x' }, result: { content: 'text of x', is_error: false } }]);
    expect(first.cost_usd).toBe(0.01);
  });

  it('marks refusals: the model’s stop_reason, and a tool call refused with a tool error', () => {
    const items = transcriptTurns(
      lines(
        response(1, [{ type: 'tool_use', id: 'b', name: 'read_file', input: { path: '../.env' } }]),
        { type: 'tool_result', id: 'b', is_error: true, content: 'refused: outside the workspace' },
        response(2, [{ type: 'text', text: 'I cannot help with that.' }], 'refusal'),
      ),
    );
    const [first, second] = items;
    expect(first?.type === 'turn' && first.tools[0]?.result?.is_error).toBe(true);
    expect(second?.type === 'turn' && second.refusal).toBe(true);
  });

  it('skips a torn last line and says what retries, errors and budget refusals were', () => {
    const text = `${lines({ type: 'retry', call: 1, retry: 1, delay_ms: 500, error: 'overloaded' }, { type: 'refused', call: 2, reason: 'budget', message: 'the budget is spent' })}\n{"type":"respo`;
    expect(transcriptTurns(text)).toEqual([
      { type: 'note', text: 'call 1: retry 1 after 500 ms (overloaded)' },
      { type: 'note', text: 'call 2: refused (budget): the budget is spent' },
    ]);
  });
});
