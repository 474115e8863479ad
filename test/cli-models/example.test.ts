import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../support/pipeline-builder.js';
import { cli, requireBuild, runJson } from './helpers.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../examples/plan-generate-review/', import.meta.url));

describe('examples/plan-generate-review', () => {
  test('runs offline from its cassette, without a key, twice, with tokens and $ in the summary', async () => {
    const dir = tempWorkspace('factory-example-');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|src|PLAN\.md)$/.test(src) });
    for (let i = 0; i < 2; i++) {
      const r = await cli(['apply', dir], path.dirname(dir), { ANTHROPIC_API_KEY: '' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/run succeeded · exit 0 · .* · 8\.8k tokens · \$0\.0144/);
    }
    expect(readFileSync(path.join(dir, 'src/greet.js'), 'utf8')).toContain('export function greet');
    const record = runJson(dir);
    expect(record.stages.review).toMatchObject({ status: 'succeeded', outputs: { approved: true } });
    expect(record.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });
});
