import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { runJson } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../../examples/plan-generate-review/', import.meta.url));

describe('examples/plan-generate-review', () => {
  test('runs offline from its cassette, without a key, twice, with tokens and $ in the summary; then from the cache', async () => {
    const dir = tempWorkspace('factory-example-');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|src|PLAN\.md)$/.test(src) });
    for (const flags of [[], ['--no-cache']]) {
      const r = await cli(['apply', dir, ...flags], path.dirname(dir), { ANTHROPIC_API_KEY: '' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/run succeeded · exit 0 · .* · 8\.8k tokens · \$0\.0144/);
    }
    expect(readFileSync(path.join(dir, 'src/greet.js'), 'utf8')).toContain('export function greet');
    const record = runJson(dir);
    expect(record.stages.review).toMatchObject({ status: 'succeeded', outputs: { approved: true } });
    expect(record.usage.cache_read_input_tokens).toBeGreaterThan(0);
    // A third apply changes nothing: every stage comes from the cache, at no cost.
    const cached = await cli(['apply', dir], path.dirname(dir), { ANTHROPIC_API_KEY: '' });
    expect(cached.code, cached.stderr).toBe(0);
    expect(runJson(dir).stages).toMatchObject({ plan: { cached: true }, generate: { cached: true }, review: { cached: true, outputs: { approved: true } } });
    expect(runJson(dir).cost_usd).toBe(0);
  });
});
