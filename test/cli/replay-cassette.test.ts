import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { requireBuild, runBuilt } from '../support/cli.js';
import { tempWorkspace } from '../support/pipeline-builder.js';
import { latestRunJson } from '../support/workspace-files.js';

beforeAll(requireBuild);

const EXAMPLE = fileURLToPath(new URL('../../examples/plan-generate-review', import.meta.url));
type Cassette = { version: 1; calls: { stage: string }[] };

/** The offline example in a temp folder, with a second cassette made from its own by `edit`. */
function example(edit: (c: Cassette) => Cassette): string {
  const dir = tempWorkspace('factory-replay-cli-');
  cpSync(EXAMPLE, dir, { recursive: true });
  const cassette = JSON.parse(readFileSync(path.join(dir, 'cassette.json'), 'utf8')) as Cassette;
  writeFileSync(path.join(dir, 'other.json'), JSON.stringify(edit(cassette)));
  return dir;
}

describe('replay: a cassette that cannot answer is a configuration problem', () => {
  test('a missing answer ends its stage in error once (no retry), naming the call and the cassette; exit 2', () => {
    const dir = example((c) => ({ ...c, calls: c.calls.filter((call) => call.stage !== 'review') }));
    const r = runBuilt(['apply', '--replay', 'other.json'], dir);
    expect(r.code, r.stderr).toBe(2);
    const review = latestRunJson(dir).stages.review!;
    expect(review).toMatchObject({ status: 'error', reason: 'config', attempts: 1 });
    expect(review.message).toBe('other.json has no recorded answer for stage "review", call 1 (it has no call of this stage at all; it records generate, plan): record it with --provider anthropic --record other.json');
    expect(r.stderr).not.toContain('attempt 2');
  });

  test('a cassette recorded for another pipeline is refused before any stage runs: exit 2, nothing written', () => {
    const dir = example((c) => ({ ...c, calls: c.calls.map((call) => ({ ...call, stage: `elsewhere.${call.stage}` })) }));
    const r = runBuilt(['apply', '--replay', 'other.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the cassette other.json looks recorded for another pipeline: it records the stages elsewhere.generate, elsewhere.plan, elsewhere.review, and none of them is a model stage here (plan, generate, review)');
    expect(existsSync(path.join(dir, 'src'))).toBe(false);
    expect(existsSync(path.join(dir, 'PLAN.md'))).toBe(false);
  });
});
