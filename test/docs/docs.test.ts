/**
 * The README and docs/: the generated configuration reference is current, the README stays a
 * first page (its set-up commands as they are, under 300 lines), every link between the pages
 * lands on a file and heading that exist, the pages cite no document a user does not have, and
 * one command form is used everywhere a user reads a command (docs, exported workflows' header).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT, runInProcess } from '../support/cli.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const DOCS = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
const PAGES = ['README.md', ...DOCS];
const read = (page: string) => readFileSync(path.join(ROOT, page), 'utf8');

/** GitHub's heading anchors (lower case, punctuation dropped, spaces to hyphens) and explicit ids. */
function anchors(page: string): Set<string> {
  const text = read(page).replace(/```[\s\S]*?```/g, '');
  const out = new Set<string>();
  for (const m of text.matchAll(/^#+ (.+)$/gm)) out.add(m[1]!.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-'));
  for (const m of text.matchAll(/<a id="([^"]+)"><\/a>/g)) out.add(m[1]!);
  return out;
}

describe('the configuration reference', () => {
  test('docs/configuration.md is what scripts/gen-docs.mjs writes from the schemas (else: npm run docs)', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-docs.mjs'), '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('it lists every key of every stage kind', () => {
    const schema = JSON.parse(read('schemas/factory.schema.json')) as { $defs: Record<string, { properties?: Record<string, unknown> }> };
    const reference = read('docs/configuration.md');
    for (const def of ['commandStage', 'planStage', 'generateStage', 'reviewStage', 'scenarioValidateStage', 'loopStage', 'pipelineStage', 'approveStage', 'stageCommon', 'workStage', 'llmStage']) {
      for (const key of Object.keys(schema.$defs[def]?.properties ?? {})) expect(reference, `${def}.${key}`).toContain(`| \`${key}\``);
    }
  });
});

describe('the README', () => {
  test('fits a first page and keeps the two set-up commands exactly', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(300);
    expect(README).toContain('```sh\nnpm ci && npx factory apply examples/roman-numerals\nnpm test\n```');
    for (const heading of ['## Install', '## A tour', '## A minimal factory.yaml', '## Commands', '## Documentation']) expect(README).toContain(heading);
    expect(README).toContain('(docs/configuration.md#stage-kinds)');
  });

  test.each(PAGES)('every relative link of %s lands on a file and a heading that exist', (page) => {
    const text = read(page).replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!;
      if (/^[a-z]+:/.test(link)) continue;
      const [file = '', hash] = link.split('#');
      const target = file === '' ? page : path.normalize(path.join(path.dirname(page), file));
      expect(existsSync(path.join(ROOT, target)), `${page}: ${link}`).toBe(true);
      if (hash) expect([...anchors(target)], `${page}: ${link}`).toContain(hash);
    }
  });

  test.each(PAGES)('%s cites the project\'s own docs, not the language reference users do not have', (page) => {
    expect(read(page)).not.toMatch(/SPEC section|SPEC §|specification is silent/);
  });

  test.each(PAGES)('%s writes commands as `factory …`: no bare `npx factory` but the set-up line inside this repository', (page) => {
    const lines = read(page).split('\n').filter((l) => /npx factory/.test(l));
    const allowed = (l: string) => l === 'npm ci && npx factory apply examples/roman-numerals' || /bare `npx factory`/.test(l) || /`npx factory` is the/.test(l);
    expect(lines.filter((l) => !allowed(l))).toEqual([]);
  });
});

describe('exported workflows', () => {
  test.each(['github-actions', 'argo'])('the %s header says how to regenerate it in the same form', async (target) => {
    const r = await runInProcess(['export', '--to', target, '-o', '-'], path.join(ROOT, 'examples', 'build-and-test'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const header = r.stdout.split('\n').filter((l) => l.startsWith('#'));
    expect(header.join('\n')).toContain(`#   factory export --to ${target} factory.yaml`);
    expect(header.join('\n')).not.toMatch(/npx factory/);
  });
});
