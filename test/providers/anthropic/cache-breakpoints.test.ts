import { describe, expect, test } from 'vitest';
import { MAX_BREAKPOINTS, withCacheBreakpoints } from '../../../src/providers/anthropic/cache-breakpoints.js';
import type { ModelRequest } from '../../../src/providers/types.js';

const E = { type: 'ephemeral' };
const tool = (name: string) => ({ name, input_schema: { type: 'object' as const } });

function count(r: ModelRequest): number {
  return JSON.stringify(r).split('"cache_control"').length - 1;
}

describe('withCacheBreakpoints', () => {
  const base: ModelRequest = {
    model: 'claude-sonnet-5-5',
    max_tokens: 100,
    system: 'Be careful.',
    tools: [tool('read_file'), tool('write_file')],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'ctx: SPEC.md' }, { type: 'text', text: 'Do it.' }] }],
  };

  test('marks tools, system and the context block; leaves the instruction and the input alone', () => {
    const r = withCacheBreakpoints(base);
    expect(r.tools![1]).toMatchObject({ name: 'write_file', cache_control: E });
    expect((r.tools![0] as { cache_control?: unknown }).cache_control).toBeUndefined();
    expect(r.system).toEqual([{ type: 'text', text: 'Be careful.', cache_control: E }]);
    expect(r.messages[0]!.content).toEqual([{ type: 'text', text: 'ctx: SPEC.md', cache_control: E }, { type: 'text', text: 'Do it.' }]);
    expect(count(r)).toBe(3);
    expect(base.system).toBe('Be careful.'); // not mutated
    expect(count(base)).toBe(0);
  });

  test('in an agent loop the conversation so far is marked too, never more than four in all', () => {
    const loop: ModelRequest = {
      ...base,
      messages: [
        ...base.messages,
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'a' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'hello' }] },
      ],
    };
    const r = withCacheBreakpoints(loop);
    expect(count(r)).toBe(MAX_BREAKPOINTS);
    expect((r.messages[2]!.content as { cache_control?: unknown }[])[0]!.cache_control).toEqual(E);
  });

  test('existing breakpoints count against the four, and nothing is marked twice', () => {
    const marked: ModelRequest = { ...base, system: [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'b', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'c', cache_control: { type: 'ephemeral' } }] };
    const r = withCacheBreakpoints(marked);
    expect(count(r)).toBe(4);
    expect((r.messages[0]!.content as { cache_control?: unknown }[])[0]!.cache_control).toEqual(E); // the most valuable one went first
    expect(withCacheBreakpoints(withCacheBreakpoints(base))).toEqual(withCacheBreakpoints(base));
  });

  test('a bare prompt has nothing stable to mark', () => {
    const plain: ModelRequest = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] };
    expect(withCacheBreakpoints(plain)).toEqual(plain);
  });
});
