import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, test } from 'vitest';
import { formatLearning } from '../../../src/learnings/front-matter.js';
import { hashWorkspaceFile } from '../../../src/learnings/staleness.js';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { ROOT, runInProcess } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';
import { latestRunDir, latestRunJson } from '../../support/workspace-files.js';
import { apiEnv, messagesOf, workspace } from '../models/helpers.js';

/**
 * Learnings end to end (docs/learnings.md), through the CLI's entry function in this process:
 * one file, so that the engine is loaded once for all of them.
 */

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

// A learn stage's answer is checked as a whole before anything is written (docs/learnings.md):
// a bad one goes back once with what is wrong, then the stage ends in error (reason output).
const PIPELINE = (extra = '') => `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 1024 }
stages:
  learn:
    kind: learn
    prompt: What did this run teach?${extra}
  validate:
    kind: scenario-validate
    if: \${{ false }}
    scenarios: scenarios/*.yaml
`;
const FILES = { 'src/a.ts': 'export const a = 1;\n', 'scenarios/one.yaml': 'name: one\nsteps:\n  - run: "true"\n', '.env': 'TOKEN=x\n' };

const learning = (title: string, files: string[] = ['src/a.ts']) => ({ title, body: `Body of ${title}.`, files, tags: ['t'] });
const answer = (...learnings: object[]) => toolUseMessage([{ name: 'submit_learnings', input: { learnings } }]);
const corrected = (req: { body?: unknown }) => JSON.stringify(req.body).includes('could not be used');

describe('a learn stage', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
  });
  afterEach(async () => {
    await api.close();
  });

  test('refuses files outside the workspace, scenario files and denied ones; the corrected answer is written', async () => {
    api.script([
      { match: corrected, reply: answer(learning('Keep a simple')) },
      { reply: answer(learning('Keep a simple', ['src/a.ts', '../outside.txt', 'scenarios/one.yaml', '.env', 'src/missing.ts'])) },
    ]);
    const dir = workspace(PIPELINE(), FILES);
    const r = await runInProcess(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    const sent = messagesOf(api.requests);
    expect(sent).toHaveLength(2);
    expect(sent[0]!.body).toMatchObject({ tool_choice: { type: 'tool', name: 'submit_learnings' } });
    const correction = JSON.stringify(sent[1]!.body);
    expect(correction).toContain('learnings[0].files[1]: \\"../outside.txt\\" leads outside the workspace');
    expect(correction).toContain('learnings[0].files[2]: \\"scenarios/one.yaml\\" is off-limits');
    expect(correction).toContain('learnings[0].files[3]: \\".env\\" is off-limits');
    expect(correction).toContain('learnings[0].files[4]: \\"src/missing.ts\\" is not a file of the workspace');
    const text = readFileSync(path.join(dir, 'docs/learnings/keep-a-simple.md'), 'utf8');
    expect(text).toMatch(/files:\n {2}- path: src\/a\.ts\n {4}sha256: [0-9a-f]{64}\n/);
    expect(latestRunJson(dir).stages.learn!.outputs).toMatchObject({ files: ['docs/learnings/keep-a-simple.md'] });
  });

  test.each([
    ['two learnings with the same title', [learning('Same title'), learning('same TITLE ')], /learnings\[1\] has the same title as learnings\[0\].*merge them into one learning or give them different titles/],
    ['a title that would make an unsafe file name', [learning('../..')], /learnings\[0\]\.title: the title "\.\.\/\.\." would make an unsafe or empty file name.*give it a title in words/],
    ['a title with a line break', [learning('two\nlines')], /learnings\[0\]\.title: .*control characters.*write it on one line/],
  ])('%s, twice: error with reason output naming the stage, exit 1, nothing written', async (_what, learnings, message) => {
    api.script([{ reply: answer(...learnings) }]);
    const dir = workspace(PIPELINE(), FILES);
    const r = await runInProcess(['apply'], dir, apiEnv(api.url));
    expect(r.code).toBe(1);
    expect(messagesOf(api.requests)).toHaveLength(2);
    const stage = latestRunJson(dir).stages.learn!;
    expect(stage.status).toBe('error');
    expect(stage.reason).toBe('output');
    expect(stage.message).toMatch(/^stage "learn": the model's learnings could not be used, also after one correction, and none was written/);
    expect(stage.message).toMatch(message);
    expect(existsSync(path.join(dir, 'docs/learnings'))).toBe(false);
  });

  test('with an output_schema: the answer must also match it, corrected once; outputs.json is the answer', async () => {
    api.script([
      { match: corrected, reply: answer(learning('Only one')) },
      { reply: answer(learning('First'), learning('Second')) },
    ]);
    const dir = workspace(PIPELINE('\n    output_schema: { properties: { learnings: { maxItems: 1 } } }'), FILES);
    const r = await runInProcess(['apply'], dir, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.stringify(messagesOf(api.requests)[1]!.body)).toContain('/learnings must NOT have more than 1 items');
    expect(latestRunJson(dir).stages.learn!.outputs).toMatchObject({ json: { learnings: [{ title: 'Only one' }] }, text: 'Only one (docs/learnings/only-one.md)' });
    expect(readdirSync(path.join(dir, 'docs/learnings'))).toEqual(['only-one.md']);
  });
});

describe('learnings.dir', () => {
  test.each([
    ['.factory/learnings', ''],
    ['.git/notes', ''],
    ['scenarios/notes', '/**'],
    ['../elsewhere', ''],
    ['./', ''],
  ])('%s is refused before the run at its line, with the fix (exit 2)', async (dir, suffix) => {
    const yaml = `${PIPELINE().replace('scenarios/*.yaml', `scenarios${suffix || '/*.yaml'}`)}learnings:\n  dir: ${dir}\n`;
    const ws = workspace(yaml, FILES);
    const r = await runInProcess(['validate'], ws);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`factory\\.yaml:12:8.*learnings\\.dir "${dir.replace(/\./g, '\\.')}" (is inside a path no model stage may read or write|is not a folder inside the workspace|names the workspace folder itself)`));
    expect(r.stderr).toContain('e.g. `learnings: { dir: docs/learnings/ }`');
  });
});

// Reading learnings (docs/learnings.md): the relevant ones go into the prompt and into the
// fingerprint — a new learning reruns the stage that reads it, an unrelated one does not.
const READERS = `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 1024 }
stages:
  reads_a:
    kind: plan
    prompt: A?
    learnings: { tags: [a] }
  reads_b:
    kind: plan
    prompt: B?
    learnings: { tags: [b], include_stale: true }
`;

function addLearning(dir: string, name: string, title: string, tags: string[], file: string, sha256: string): void {
  mkdirSync(path.join(dir, 'docs/learnings'), { recursive: true });
  writeFileSync(path.join(dir, 'docs/learnings', name), formatLearning({ title, tags, files: [{ path: file, sha256 }], created: new Date().toISOString(), body: `What ${title} says.` }));
}

describe('stages that read learnings', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
    api.script([{ reply: textMessage('ok') }]);
  });
  afterEach(async () => {
    await api.close();
  });

  test('rerun for a new learning they read, not for another; stale ones left out or marked; list warns and prune removes', async () => {
    const dir = workspace(READERS, { 'src/a.ts': 'one\n' });
    const apply = async () => {
      const before = messagesOf(api.requests).length;
      const r = await runInProcess(['apply'], dir, apiEnv(api.url));
      expect(r.code, r.stderr).toBe(0);
      return messagesOf(api.requests).slice(before);
    };
    expect(await apply()).toHaveLength(2);

    addLearning(dir, 'about-a.md', 'About a', ['a'], 'src/a.ts', hashWorkspaceFile(dir, 'src/a.ts')!);
    writeFileSync(path.join(dir, 'docs/learnings/broken.md'), '---\ntitle: Broken\ntags: [a\n---\nbody\n');
    const second = await apply();
    expect(second).toHaveLength(1);
    expect(JSON.stringify(second[0]!.body)).toMatch(/<learning title=\\"About a\\" file=\\"docs\/learnings\/about-a\.md\\".*What About a says\./);
    const record = latestRunJson(dir);
    expect([record.stages.reads_a!.cached, record.stages.reads_b!.cached]).toEqual([false, true]);
    const warned = readFileSync(path.join(latestRunDir(dir), 'stages', 'reads_a.stderr'), 'utf8');
    expect(warned).toMatch(/^warning: docs\/learnings\/broken\.md:\d+:\d+: learning docs\/learnings\/broken\.md has broken front matter: .*it is left out \(fix the YAML/);

    // Its file changes: stale, left out, so the stage's fingerprint is the first run's again.
    writeFileSync(path.join(dir, 'src/a.ts'), 'two\n');
    expect(await apply()).toHaveLength(0);
    expect(latestRunJson(dir).stages.reads_a!.cached).toBe(true);

    // With include_stale a stale learning goes in, marked.
    addLearning(dir, 'about-b.md', 'About b', ['b'], 'src/a.ts', 'f'.repeat(64));
    const fourth = await apply();
    expect(fourth).toHaveLength(1);
    expect(JSON.stringify(fourth[0]!.body)).toContain('stale=\\"true\\" changed=\\"src/a.ts\\"');

    const list = await runInProcess(['learnings', 'list'], dir);
    expect(list.code).toBe(0);
    expect(list.stderr).toMatch(/warning: docs\/learnings\/broken\.md:\d+:\d+: .*broken front matter/);
    expect(list.stdout.match(/stale \(src\/a\.ts changed\)/g)).toHaveLength(2);
    const pruned = await runInProcess(['learnings', 'prune'], dir);
    expect(pruned.stdout).toContain('2 stale learnings removed; 0 fresh kept');
    expect(readdirSync(path.join(dir, 'docs/learnings'))).toEqual(['broken.md']);

    const missing = await runInProcess(['learnings', 'show', 'About c'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no learning titled "About c"');
  });
});

describe('a loop whose body reads learnings', () => {
  let api: FakeAnthropic;
  beforeEach(async () => {
    api = await startFakeAnthropic();
    api.script([{ reply: textMessage('ok') }]);
  });
  afterEach(async () => {
    await api.close();
  });

  test('is cached as a whole until a learning its body reads appears', async () => {
    const dir = workspace('version: 1\ndefaults: { model: claude-sonnet-5-5, max_tokens: 1024 }\nstages:\n  build:\n    kind: loop\n    max_iterations: 1\n    until: ${{ true }}\n    stages:\n      think: { kind: plan, prompt: Go., learnings: { tags: [c] } }\n', { 'c.txt': 'c\n' });
    const apply = async () => {
      const r = await runInProcess(['apply'], dir, apiEnv(api.url));
      expect(r.code, r.stderr).toBe(0);
      return latestRunJson(dir).stages.build!.cached;
    };
    expect(await apply()).toBeFalsy();
    expect(await apply()).toBe(true);
    addLearning(dir, 'about-c.md', 'About c', ['c'], 'c.txt', hashWorkspaceFile(dir, 'c.txt')!);
    expect(await apply()).toBeFalsy();
    expect(JSON.stringify(messagesOf(api.requests).at(-1)!.body)).toContain('<learning title=\\"About c\\"');
  });
});

describe('builtin:spec-to-code', () => {
  it('with `learn: true` gains a learn stage after the loop; its plan and generate read learnings', async () => {
    const dir = workspace('version: 1\nextends: builtin:spec-to-code\nwith: { learn: true }\n', { 'SPEC.md': 'spec\n', 'scenarios/a.yaml': 'name: a\nsteps:\n  - run: "true"\n' });
    const r = await runInProcess(['plan', '--format', 'json'], dir);
    expect(r.code, r.stderr).toBe(0);
    const stages = (JSON.parse(r.stdout) as { stages: { path: string; kind: string; needs: string[] }[] }).stages;
    expect(stages.find((s) => s.path === 'learn')).toMatchObject({ kind: 'learn', needs: ['build'] });
    const template = readFileSync(path.join(ROOT, 'pipelines/spec-to-code.yaml'), 'utf8');
    expect(template.match(/learnings: \{ tags: \[spec-to-code\] \}/g)).toHaveLength(2);
  });
});
