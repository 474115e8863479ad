import { appendFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runInProcess } from '../../support/cli.js';
import { latestRunDir, latestRunJson } from '../../support/workspace-files.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

// Done when (issue 20): examples/learnings, offline from its cassette — the first run writes a
// learning, the second's plan prompt holds it; an edit of the file it names makes it stale,
// `factory learnings list` says so, and the third run leaves it out.
const ENV = { PATH: process.env.PATH };
const LEARNING = 'docs/learnings/roman-js-has-no-subtractive-pairs.md';

function planPrompt(dir: string): string {
  return readFileSync(path.join(latestRunDir(dir), 'stages', 'plan.prompt.md'), 'utf8');
}

describe('examples/learnings', () => {
  it('compounds across runs and stays honest when the code moves on', async () => {
    const dir = tempWorkspace('factory-learnings-example-');
    cpSync(path.join(ROOT, 'examples/learnings'), dir, { recursive: true, filter: (src) => !/[/\\](\.factory|docs)$/.test(src) });

    const first = await runInProcess(['apply'], dir, ENV);
    expect(first.code, first.stderr).toBe(0);
    expect(planPrompt(dir)).not.toContain('## learnings');
    const written = readFileSync(path.join(dir, LEARNING), 'utf8');
    expect(written).toMatch(/^---\ntitle: roman\.js has no subtractive pairs\ntags:\n {2}- roman\n {2}- bug\nfiles:\n {2}- path: roman\.js\n {4}sha256: [0-9a-f]{64}\ncreated: /);
    expect(written).toContain('stage: learn');
    expect(latestRunJson(dir).stages.learn!.outputs).toMatchObject({ files: [LEARNING], learnings: [{ title: 'roman.js has no subtractive pairs', updated: false }] });

    // The second run: the plan reads the learning (a new learning it reads reruns it).
    const second = await runInProcess(['apply'], dir, ENV);
    expect(second.code, second.stderr).toBe(0);
    const record = latestRunJson(dir);
    expect(record.stages.plan!.cached).toBeFalsy();
    expect(planPrompt(dir)).toContain('## learnings\n\n- roman.js has no subtractive pairs (docs/learnings/roman-js-has-no-subtractive-pairs.md, fresh)');
    const transcript = readFileSync(path.join(latestRunDir(dir), 'stages', 'plan.transcript.jsonl'), 'utf8');
    expect(transcript).toContain('"type":"learnings"');
    // Same title: the file is updated, its creation kept.
    expect(readFileSync(path.join(dir, LEARNING), 'utf8')).toMatch(/created: .*\nupdated: /);

    const fresh = await runInProcess(['learnings', 'list'], dir);
    expect(fresh.stdout).toMatch(/roman\.js has no subtractive pairs +fresh +roman, bug +\d+m +docs\/learnings\//);

    // The code moves on: the learning goes stale.
    appendFileSync(path.join(dir, 'roman.js'), '// IV and IX handled elsewhere\n');
    const stale = await runInProcess(['learnings'], dir);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toContain('stale (roman.js changed)');
    const json = JSON.parse((await runInProcess(['learnings', 'list', '--json'], dir)).stdout) as { stale: boolean; changed: string[] }[];
    expect(json).toMatchObject([{ stale: true, changed: ['roman.js'] }]);
    const shown = await runInProcess(['learnings', 'show', 'ROMAN.JS has no subtractive pairs'], dir);
    expect(shown.stdout).toContain('state:   stale (roman.js changed)');
    const dry = await runInProcess(['learnings', 'prune', '--dry-run'], dir);
    expect(dry.stdout).toContain(`would remove ${LEARNING}`);
    expect(existsSync(path.join(dir, LEARNING))).toBe(true);

    // The third run leaves it out (run afresh: with the cache, the plan's fingerprint is the first run's again).
    const third = await runInProcess(['apply', '--no-cache'], dir, ENV);
    expect(third.code, third.stderr).toBe(0);
    expect(planPrompt(dir)).not.toContain('## learnings');
  });
});
