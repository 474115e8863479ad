/**
 * A newcomer's first steps, as the README writes them: the package packed with `npm pack`, laid
 * out as `npm install -g` lays out a tarball (the package under lib/node_modules, its bin linked
 * into bin/), then every command of the README's tour played as written with that bin/ on the
 * PATH and no API key. Also what `factory init` writes for each starting point, and that each
 * fits its own budget in `factory plan`.
 *
 * The tarball's dependencies are linked from this checkout's node_modules instead of being
 * downloaded (tests use no network): only the `dependencies` of package.json are linked, so a
 * runtime import of a dev dependency fails here as it would for a user.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../support/cli.js';

interface Shell {
  code: number;
  stdout: string;
  stderr: string;
  cwd: string;
}

const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

let prefix = '';
let work = '';

/** Runs one command line with bash in `cwd`, with the installed bin first on the PATH; reports where it ended up (a `cd` carries on). */
function sh(line: string, cwd: string): Shell {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`, CI: '1', NO_COLOR: '1' };
  delete env.ANTHROPIC_API_KEY;
  delete env.ANTHROPIC_BASE_URL;
  const marker = '__tour_cwd__';
  const r = spawnSync('bash', ['-c', `${line}\nrc=$?\nprintf '\\n${marker}%s' "$PWD"\nexit $rc`], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  const at = r.stdout.lastIndexOf(marker);
  return { code: r.status ?? -1, stdout: at >= 0 ? r.stdout.slice(0, at) : r.stdout, stderr: r.stderr, cwd: at >= 0 ? r.stdout.slice(at + marker.length).trim() : cwd };
}

/** The command lines of the README's tour: every line of its `sh` blocks, in order. */
function tourCommands(): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## A tour');
  expect(start, 'the README has a section "## A tour"').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const lines: string[] = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) lines.push(...m[1]!.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')));
  return lines;
}

beforeAll(() => {
  work = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-tour-')));
  // The build is `npm test`'s first step; packing with scripts would build a second time.
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
  expect(pack.status, pack.stderr).toBe(0);
  const tarball = path.join(work, `${PACKAGE.name}-${PACKAGE.version}.tgz`);
  expect(existsSync(tarball)).toBe(true);

  prefix = path.join(work, 'prefix');
  const pkg = path.join(prefix, 'lib', 'node_modules', PACKAGE.name);
  mkdirSync(pkg, { recursive: true });
  const untar = spawnSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], { encoding: 'utf8' });
  expect(untar.status, untar.stderr).toBe(0);
  for (const dep of Object.keys(PACKAGE.dependencies)) {
    const target = path.join(pkg, 'node_modules', dep);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', dep), target, 'dir');
  }
  const bin = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  mkdirSync(path.join(prefix, 'bin'));
  for (const [name, file] of Object.entries(bin.bin)) {
    chmodSync(path.join(pkg, file), 0o755);
    symlinkSync(path.join(pkg, file), path.join(prefix, 'bin', name));
  }
}, 180_000);

describe('the README tour, from an npm pack tarball', () => {
  test('the tarball ships the CLI, its schemas and the built-in templates, and no tests', () => {
    const pkg = path.join(prefix, 'lib', 'node_modules', PACKAGE.name);
    expect(readdirSync(pkg).sort()).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json', 'pipelines', 'schemas']));
    expect(existsSync(path.join(pkg, 'test'))).toBe(false);
    const v = sh('factory --version', work);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(PACKAGE.version);
  });

  test('every command of the tour works as written, offline and without a key', () => {
    const commands = tourCommands();
    expect(commands[0]).toMatch(/^mkdir greeter && cd greeter/);
    expect(commands.some((c) => c.startsWith('factory apply --replay starter.cassette.json'))).toBe(true);
    let cwd = path.join(work, 'tour');
    mkdirSync(cwd);
    const outputs = new Map<string, Shell>();
    for (const line of commands) {
      const r = sh(line, cwd);
      expect(r.code, `\`${line}\` exited ${r.code}\n${r.stdout}\n${r.stderr}`).toBe(0);
      cwd = r.cwd;
      outputs.set(line.replace(/\s+#.*$/, ''), r);
    }
    expect(cwd).toBe(path.join(work, 'tour', 'greeter'));
    expect(outputs.get('factory init')!.stdout).toContain('starter.cassette.json');
    const applies = commands.filter((c) => c.startsWith('factory apply --replay')).map((c) => c.replace(/\s+#.*$/, ''));
    expect(applies.length).toBe(2);
    expect(outputs.get('node main.js Ada')!.stdout.trim()).toBe('Hello, Ada');
    expect(outputs.get('factory show latest build')!.stdout).toContain('converged in iteration 2 of 3');
    // The map keeps the last of the two identical lines: the repeated apply, answered by the cache.
    expect(outputs.get(applies[1]!)!.stderr).toMatch(/plan +✓ succeeded .*cached/);
    expect(outputs.get(applies[1]!)!.stderr).toMatch(/build +✓ succeeded .*cached/);
  });

  test('what the tour says of the starter holds: the loop converges in iteration 2; a plain apply asks for the key at once (exit 2)', () => {
    const dir = path.join(work, 'starter');
    mkdirSync(dir);
    expect(sh('factory init', dir).code).toBe(0);
    const live = sh('factory apply', dir);
    expect(live.code).toBe(2);
    expect(live.stderr).toContain('ANTHROPIC_API_KEY');
    expect(existsSync(path.join(dir, '.factory', 'runs'))).toBe(false);
    const replay = sh('factory apply --replay starter.cassette.json', dir);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toContain('converged in iteration 2 of 3');
    expect(sh('node main.js', dir).code).toBe(2);
  });
});

interface Plan {
  budget: { tokens?: number; cost_usd?: number };
  worstCase: { tokens: number; cost_usd: number; unpriced: string[] };
}

describe('factory init: each starting point', () => {
  const cases: { label: string; template?: string; files: string[]; absent: string[]; next: RegExp[] }[] = [
    { label: 'the starter', files: ['factory.yaml', 'scenarios/example.yaml', 'SPEC.md', 'starter.cassette.json', '.gitignore'], absent: ['BUG.md'], next: [/factory apply --replay starter\.cassette\.json/, /SPEC\.md/] },
    { label: '--template spec-to-code', template: 'spec-to-code', files: ['factory.yaml', 'scenarios/example.yaml', 'SPEC.md', '.gitignore'], absent: ['BUG.md', 'starter.cassette.json'], next: [/SPEC\.md/, /npm test/] },
    { label: '--template bugfix', template: 'bugfix', files: ['factory.yaml', 'BUG.md', '.gitignore'], absent: ['SPEC.md', 'scenarios', 'starter.cassette.json'], next: [/BUG\.md/, /reproduce/] },
    { label: '--template review-only', template: 'review-only', files: ['factory.yaml', '.gitignore'], absent: ['SPEC.md', 'BUG.md', 'scenarios', 'starter.cassette.json'], next: [/review/, /uses: builtin:review-only/] },
  ];

  test.each(cases)('$label writes only what it reads, says what to do next, and fits its budget in plan', ({ template, files, absent, next }) => {
    const dir = path.join(work, `init-${template ?? 'starter'}`);
    mkdirSync(dir);
    const r = sh(`factory init${template ? ` --template ${template}` : ''}`, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const f of files) expect(existsSync(path.join(dir, f)), f).toBe(true);
    for (const f of absent) expect(existsSync(path.join(dir, f)), f).toBe(false);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${files.join(', ').replace(/\./g, '\\.')}\\n`));
    const nextPart = r.stdout.slice(r.stdout.indexOf('next:'));
    for (const re of next) expect(nextPart).toMatch(re);
    if (template === 'bugfix' || template === 'review-only') expect(nextPart).not.toContain('scenarios/');
    expect(nextPart).not.toMatch(/npx factory/);
    expect(nextPart).toContain('factory plan');

    const plan = sh('factory plan --format json', dir);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as Plan;
    expect(p.worstCase.unpriced).toEqual([]);
    expect(p.worstCase.cost_usd).toBeLessThanOrEqual(p.budget.cost_usd!);
    expect(p.worstCase.tokens).toBeLessThanOrEqual(p.budget.tokens!);
    expect(sh('factory plan', dir).stdout).toContain('— within it');
  });

  test('init --help lists the built-in templates', () => {
    const r = sh('factory init --help', work);
    expect(r.code).toBe(0);
    const shipped = readdirSync(path.join(ROOT, 'pipelines')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`start from a built-in template: ${shipped.join(', ')}`);
  });

  test('the starter cassette is a valid cassette that answers the starter\'s model stages', () => {
    const dir = path.join(work, 'init-cassette');
    mkdirSync(dir);
    expect(sh('factory init', dir).code).toBe(0);
    const cassette = JSON.parse(readFileSync(path.join(dir, 'starter.cassette.json'), 'utf8')) as { version: number; calls: { stage: string }[] };
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'cassette.schema.json'), 'utf8')) as object);
    expect(validate(cassette), JSON.stringify(validate.errors)).toBe(true);
    expect(new Set(cassette.calls.map((c) => c.stage))).toEqual(new Set(['plan', 'build.generate']));
  });
});
