// examples/ensemble-review, as a user runs it: offline from its cassette, where the reviews of
// gpt-5.4 and gpt-5.4-mini are OpenAI Responses (provider: openai) beside Claude's Messages.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { cli, requireBuild, runInProcess } from '../../support/cli.js';
import { runJson } from './helpers.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../../examples/ensemble-review/', import.meta.url));

describe('examples/ensemble-review', () => {
  test('runs offline: one generate, three reviews by two vendors as a matrix, joined, and the ensemble verdict', async () => {
    const dir = path.join(tempWorkspace('factory-example-'), 'ensemble-review');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|wordcount\.js)$/.test(src) });
    // No key and an endpoint that answers nothing: every call must come from the cassette.
    const env = { ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };
    const r = await cli(['apply', '.'], dir, env);
    expect(r.code, r.stderr).toBe(0);

    const record = runJson(dir);
    const reviewers = [
      { provider: 'anthropic', model: 'claude-sonnet-4-5' },
      { provider: 'openai', model: 'gpt-5.4' },
      { provider: 'openai', model: 'gpt-5.4-mini' },
    ];
    const instances = record.stages.review!.outputs.instances as { index: number; matrix: unknown; status: string; outputs: { verdict: string } }[];
    expect(instances.map((i) => i.matrix)).toEqual(reviewers);
    expect(instances.every((i) => i.status === 'succeeded' && i.outputs.verdict === 'approve')).toBe(true);
    expect(record.stages['review[3]']!.outputs).toMatchObject({ score: 0.82, findings: [{ severity: 'minor' }, { severity: 'info' }] });

    // Each instance's call was recorded from the vendor its matrix entry names, in that vendor's format.
    const cassette = JSON.parse(readFileSync(path.join(dir, 'cassette.json'), 'utf8')) as { calls: { stage: string; provider?: string; api?: string; response: { object?: string; type?: string; model: string } }[] };
    const byStage = (n: number) => cassette.calls.find((c) => c.stage === `review[${n}]`)!;
    reviewers.forEach((want, i) => expect(byStage(i + 1)).toMatchObject({ provider: want.provider, response: { model: want.model } }));
    expect(byStage(2)).toMatchObject({ api: 'responses', response: { object: 'response' } });
    expect(byStage(1).response.type).toBe('message');

    const stdout = String(record.stages.verdict!.outputs.stdout);
    expect(stdout).toContain('review[2] openai/gpt-5.4: approve, score 0.86');
    expect(stdout).toContain('ensemble: approve (3 of 3 reviewers approve), mean score 0.86, findings: 2 minor, 2 info');
    expect(readFileSync(path.join(dir, 'wordcount.js'), 'utf8')).toContain('split(/\\s+/)');
  });

  test("plan names the models and providers a matrix gives its instances, not the expression", async () => {
    const dir = path.join(tempWorkspace('factory-example-'), 'ensemble-review');
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](\.factory|wordcount\.js)$/.test(src) });
    const yaml = path.join(dir, 'factory.yaml');
    // As the README says to run it live: each instance with its own vendor.
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('    model: ${{ matrix.model }}\n', '    model: ${{ matrix.model }}\n    provider: ${{ matrix.provider }}\n'));
    const r = await runInProcess(['plan', '--wide'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/review +review, matrix ×3 +build +- +claude-sonnet-4-5, gpt-5\.4, gpt-5\.4-mini +anthropic, openai /);
    expect(r.stdout).not.toContain('${{ matrix.');
  });
});
