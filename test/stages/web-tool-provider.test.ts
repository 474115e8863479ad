import { describe, expect, test } from 'vitest';
import type { StageContext } from '../../src/engine/executor.js';
import { splitTools, webToolDefinitions } from '../../src/stages/agent-tools.js';

/** Only what webToolDefinitions reads of a stage: its path and definition. */
const stage = (def: Record<string, unknown>) => ({ node: { path: 'research', def } }) as unknown as StageContext;

describe('web tools and the provider', () => {
  test('a provider that runs no web tools is a config error of the stage naming it and the fix', () => {
    const got = webToolDefinitions(stage({ kind: 'generate' }), 'openai', ['web_search', 'web_fetch']);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.result).toMatchObject({ status: 'error', reason: { kind: 'config' } });
    expect(got.result.message).toBe('stage "research" lists web_search and web_fetch, which the provider "openai" does not run; use provider anthropic, or take them out of `tools`');
  });

  test('anthropic and replay get the current server tool types with the stage\'s web settings', () => {
    for (const provider of ['anthropic', 'replay']) {
      const got = webToolDefinitions(stage({ kind: 'generate', web: { blocked_domains: ['example.com'] } }), provider, ['web_fetch']);
      expect(got).toEqual({ ok: true, value: [{ type: 'web_fetch_20250910', name: 'web_fetch', blocked_domains: ['example.com'] }] });
    }
  });

  test('a stage\'s tools are sorted into built-ins, web tools and MCP refs', () => {
    expect(splitTools(['read_file', 'web_search', 'mcp:memory', 'mcp:gh/create_issue'])).toEqual({
      builtins: ['read_file'],
      web: ['web_search'],
      mcp: [{ server: 'memory' }, { server: 'gh', tool: 'create_issue' }],
    });
  });
});
