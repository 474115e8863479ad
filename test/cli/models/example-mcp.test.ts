import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runDirOf, runJson } from './helpers.js';
import { cli, requireBuild } from '../../support/cli.js';

beforeAll(requireBuild);

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = path.join(REPO, 'examples', 'mcp-memory');
const clean = () => {
  rmSync(path.join(EXAMPLE, '.factory'), { recursive: true, force: true });
  rmSync(path.join(EXAMPLE, 'ANSWER.md'), { force: true });
};
afterAll(clean);

describe('examples/mcp-memory', () => {
  test('runs from the repository offline, from its cassette, with the real memory server', async () => {
    clean();
    // In place: the example names the server in ../../node_modules, as its README says.
    const r = await cli(['apply', 'examples/mcp-memory'], REPO, { ANTHROPIC_API_KEY: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/run succeeded · exit 0 · .* · 8\.9k tokens · \$0\.0206/);
    expect(readFileSync(path.join(EXAMPLE, 'ANSWER.md'), 'utf8')).toBe('Ada and Grace work on the parser (they work together).\n');
    const run = runDirOf(EXAMPLE);
    const graph = readFileSync(path.join(run, 'memory.jsonl'), 'utf8');
    expect(graph).toContain('"name":"Grace"');
    expect(graph).toContain('"relationType":"works with"');
    const recall = readFileSync(path.join(run, 'stages', 'recall.transcript.jsonl'), 'utf8');
    expect(recall).toContain('"name":"memory__search_nodes"');
    expect(runJson(EXAMPLE).stages).toMatchObject({ remember: { status: 'succeeded' }, recall: { status: 'succeeded', outputs: { files_changed: ['ANSWER.md'] } } });
  }, 60_000);
});
