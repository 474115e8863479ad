import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createDenyMatcher, createMatcher, type Matcher } from '../../workspace/matcher.js';
import { tokenize } from '../command-line.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { expandGlobs } from '../files.js';
import { isRecord } from '../../base/is-record.js';
import { locate, type LoadedFile } from '../load/load.js';
import type { RawScope, RawStage } from './scopes.js';
import { isFile } from '../../base/is-file.js';

/**
 * An allow-listed command runs code, and the agent that may run it may also change that code:
 * with `commands: ["npm test"]` and no `writes`, an agent can rewrite package.json's test script
 * and run it, outside factory's path confinement (it then reads `.env` and the held-out scenarios,
 * and writes anywhere). Confinement of the files the agent touches cannot cover what a program
 * does; only `writes` that leave those files out, or a sandbox around the program, can.
 *
 * `validate` warns, at a generate stage's `commands`, when its `writes` (and `deny`) let the
 * agent change what those commands run: for npm, npx, yarn, pnpm and bun, package.json, the
 * scripts they name, the files those scripts name and the test files and runner configs of the
 * tests they run; for an interpreter (`node X`, `python X`, `sh X`, …) or a path (`./x.sh`),
 * that file; for test runners, their tests and configs. A command factory knows nothing about is
 * named too when the stage may write any file. Entries written with `${{ }}` are known only at
 * run time and are not judged.
 */

/** What a command runs: a workspace-relative file (or a representative path of a kind of files), and why. */
interface Target {
  rel: string;
  /** How it is shown: the path, or a description of a kind of files. */
  shown: string;
}

interface Reach {
  targets: Target[];
  /** factory cannot tell what it runs. */
  unknown?: boolean;
  /** What the command is, in words (its script's text, say), shown before the files. */
  note?: string;
}

/** Programs that run no code of the workspace (git's hooks live in `.git/`, which the agent can never write). */
const INERT = new Set(['ls', 'cat', 'head', 'tail', 'wc', 'grep', 'rg', 'pwd', 'echo', 'diff', 'git', 'tree', 'stat', 'file', 'true', 'false', 'date', 'which', 'tsc', 'du', 'sort', 'uniq']);
const INTERPRETERS = new Set(['node', 'nodejs', 'python', 'python3', 'ruby', 'perl', 'php', 'sh', 'bash', 'zsh', 'dash', 'tsx', 'ts-node', 'deno', 'lua', 'Rscript']);
const JS_RUNNERS = new Set(['vitest', 'jest', 'mocha', 'ava', 'tap', 'playwright', 'cypress', 'karma', 'jasmine', 'uvu']);
const JS_TESTS = ['**/*.{test,spec}.{js,jsx,ts,tsx,mjs,cjs,mts,cts}', 'test/**', 'tests/**', '__tests__/**', '{vitest,vite,jest,playwright,cypress,karma,ava,babel}.config.*', '.mocharc*'];
const PY_TESTS = ['**/test_*.py', '**/*_test.py', '**/conftest.py', 'pytest.ini', 'tox.ini', 'setup.cfg', 'pyproject.toml'];
/** How many files are named in the message; the rest are counted. */
const SHOWN_FILES = 6;

export function checkAllowedCommands(loaded: LoadedFile, root: RawScope, workspace: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const config = isRecord(loaded.value) ? loaded.value : {};
  const pkg = readPackageJson(workspace);
  const visit = (scope: RawScope) => {
    for (const stage of scope.order) {
      if (stage.body) visit(stage.body);
      if (stage.def.kind !== 'generate' || !Array.isArray(stage.def.commands)) continue;
      // A sandbox confines what the programs do, whatever files they run (docs/models-and-budgets.md).
      if (isOn(stage.def.sandbox) || isOn(config.sandbox)) continue;
      const d = checkStage(loaded, stage, workspace, pkg);
      if (d) out.push(d);
    }
  };
  visit(root);
  return out;
}

function isOn(sandbox: unknown): boolean {
  return sandbox === true || isRecord(sandbox);
}

function checkStage(loaded: LoadedFile, stage: RawStage, workspace: string, pkg: PackageJson | undefined): Diagnostic | undefined {
  const def = stage.def;
  const writes = globList(def.writes);
  const deny = createDenyMatcher(globList(def.deny));
  const writer: Matcher | undefined = writes === undefined ? undefined : createMatcher(writes);
  const writable = (rel: string) => !deny.matches(rel) && (writer === undefined || writer.matches(rel));

  const parts: string[] = [];
  for (const entry of def.commands as unknown[]) {
    if (typeof entry !== 'string' || entry.includes('${{')) continue;
    const reach = whatRuns(entry, workspace, pkg);
    if (reach.unknown) {
      if (writes === undefined) parts.push(`\`${entry}\` may run files of the workspace (factory cannot tell which)`);
      continue;
    }
    const open = dedupeTargets(reach.targets.filter((t) => writable(t.rel)));
    if (open.length === 0) continue;
    const shown = open.slice(0, SHOWN_FILES).map((t) => t.shown);
    if (open.length > SHOWN_FILES) shown.push(`${open.length - SHOWN_FILES} more`);
    parts.push(`\`${entry}\` runs ${reach.note ? `${reach.note} and ` : ''}${listing(shown)}`);
  }
  if (parts.length === 0) return undefined;
  const who = writes === undefined ? 'this stage has no `writes:`, so its agent may edit any of them' : `its \`writes\` (${writes.join(', ')}) let its agent edit them`;
  const fix = writes === undefined ? `give the stage \`writes:\` globs that leave these files out (${suggestWrites(workspace)})` : 'leave these files out of `writes:`';
  return diagnostic(
    loaded.file,
    locate(loaded, [...stage.yamlPath, 'commands'], 'key'),
    'commands-run-writable-code',
    `stage "${stage.path}" allow-lists commands that run code its agent can change: ${parts.join('; ')}; ${who}. ` +
      "An allow-listed command runs whatever those files say, outside factory's path confinement: an agent that edits them can read .env and the held-out scenarios and write anywhere",
    `${fix}; factory does not confine the processes it starts, so what they run can do whatever your user can`,
    'warning',
  );
}

function listing(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function dedupeTargets(targets: Target[]): Target[] {
  const seen = new Set<string>();
  return targets.filter((t) => !seen.has(t.shown) && seen.add(t.shown));
}

function suggestWrites(workspace: string): string {
  for (const dir of ['src', 'lib', 'app']) if (isDir(path.join(workspace, dir))) return `e.g. writes: ["${dir}/**"]`;
  return 'e.g. writes: ["src/**"], naming what the agent should make';
}

/** What running the allow-list entry runs of the workspace. */
function whatRuns(entry: string, workspace: string, pkg: PackageJson | undefined): Reach {
  const prefix = entry.endsWith(' *');
  const parsed = tokenize(prefix ? entry.slice(0, -2) : entry);
  // An entry that needs a shell can never run (run_command has none): it runs nothing.
  if (!parsed.ok || parsed.argv.length === 0) return { targets: [] };
  const argv = parsed.argv;
  const program = argv[0]!;
  const name = path.basename(program);
  if (program.includes('/')) return { targets: [fileTarget(program, workspace)] };
  if (INERT.has(name)) return { targets: [] };
  if (name === 'npm' || name === 'yarn' || name === 'pnpm' || name === 'bun') return packageManager(name, argv.slice(1), prefix, workspace, pkg);
  if (name === 'npx') return npx(argv.slice(1), workspace);
  if (INTERPRETERS.has(name)) return interpreter(name, argv.slice(1), prefix, workspace);
  if (JS_RUNNERS.has(name)) return { targets: testTargets('js', workspace) };
  if (name === 'pytest' || name === 'py.test') return { targets: testTargets('py', workspace) };
  if (name === 'make' || name === 'gmake') return { targets: present(workspace, ['Makefile', 'makefile', 'GNUmakefile'], 'Makefile') };
  if (name === 'cargo') return { targets: [...present(workspace, ['Cargo.toml'], 'Cargo.toml'), ...present(workspace, ['build.rs'], 'build.rs'), ...(argv[1] === 'test' ? globTargets(workspace, ['tests/**'], 'tests/example.rs') : [])] };
  if (name === 'go' && argv[1] === 'test') return { targets: globTargets(workspace, ['**/*_test.go'], 'example_test.go') };
  if (name === 'go' && argv[1] === 'run' && argv[2] !== undefined) return { targets: [fileTarget(argv[2], workspace)] };
  return { targets: [], unknown: true };
}

function packageManager(pm: string, args: string[], prefix: boolean, workspace: string, pkg: PackageJson | undefined): Reach {
  const base: Target[] = [{ rel: 'package.json', shown: 'package.json' }, { rel: 'node_modules/.bin/x', shown: 'node_modules/ (the programs scripts call)' }];
  const sub = args[0];
  let scripts: string[] | 'all' = [];
  if (sub === undefined) scripts = prefix ? 'all' : ['preinstall', 'install', 'postinstall', 'prepare'];
  else if (['test', 't', 'tst', 'start', 'stop', 'restart'].includes(sub)) scripts = [sub === 't' || sub === 'tst' ? 'test' : sub];
  else if (sub === 'run' || sub === 'run-script' || sub === 'rum' || sub === 'urn') scripts = args[1] !== undefined ? [args[1]] : prefix ? 'all' : [];
  else if (['install', 'i', 'ci', 'add'].includes(sub)) scripts = ['preinstall', 'install', 'postinstall', 'prepare'];
  else if (sub === 'exec' || sub === 'x' || sub === 'dlx') return mergeReach(base, npx(args.slice(1), workspace));
  else if (pm !== 'npm' && pkg?.scripts[sub] !== undefined) scripts = [sub];
  if (pm === 'bun' && sub === 'test') return { targets: [...base, ...testTargets('js', workspace)] };
  if (pm === 'bun' && sub === 'run' && args[1] !== undefined && pkg?.scripts[args[1]] === undefined) return { targets: [fileTarget(args[1], workspace)] };

  const names = scripts === 'all' ? Object.keys(pkg?.scripts ?? {}) : scripts.flatMap((s) => [`pre${s}`, s, `post${s}`]);
  const texts = names.map((n) => [n, pkg?.scripts[n]] as const).filter((p): p is readonly [string, string] => p[1] !== undefined);
  const targets = [...base];
  for (const [, text] of texts) targets.push(...scriptTargets(text, workspace));
  const main = texts.find(([n]) => !n.startsWith('pre') && !n.startsWith('post')) ?? texts[0];
  const note = scripts === 'all' ? 'any script of package.json' : main ? `the "${main[0]}" script (${clip(main[1])})` : undefined;
  return note ? { targets, note } : { targets };
}

function npx(args: string[], workspace: string): Reach {
  const tool = args.find((a) => !a.startsWith('-'));
  if (tool === undefined) return { targets: [{ rel: 'node_modules/.bin/x', shown: 'node_modules/ (the programs it starts)' }] };
  const targets: Target[] = [{ rel: `node_modules/.bin/${tool}`, shown: `node_modules/.bin/${tool}` }];
  if (JS_RUNNERS.has(tool)) targets.push(...testTargets('js', workspace));
  if (tool === 'tsx' || tool === 'ts-node' || tool === 'node') {
    const file = args.slice(args.indexOf(tool) + 1).find((a) => !a.startsWith('-'));
    if (file !== undefined) targets.push(fileTarget(file, workspace));
  }
  return { targets };
}

function interpreter(name: string, args: string[], prefix: boolean, workspace: string): Reach {
  if ((name === 'python' || name === 'python3') && args[0] === '-m') {
    if (args[1] === 'pytest' || args[1] === 'unittest') return { targets: testTargets('py', workspace) };
    return { targets: [], unknown: true };
  }
  if ((name === 'deno' || name === 'bun') && args[0] === 'test') return { targets: testTargets('js', workspace) };
  const rest = name === 'deno' && args[0] === 'run' ? args.slice(1) : args;
  const file = rest.find((a) => !a.startsWith('-'));
  if (file !== undefined) return { targets: [fileTarget(file, workspace)] };
  // `node *`, `python *`: whatever file the agent names — any file it writes.
  return prefix ? { targets: [{ rel: 'any-file.js', shown: 'any file it is given' }] } : { targets: [] };
}

function mergeReach(base: Target[], reach: Reach): Reach {
  return { ...reach, targets: [...base, ...reach.targets] };
}

/** Files a script's text names that exist in the workspace, and the tests of a test runner it calls. */
function scriptTargets(text: string, workspace: string): Target[] {
  const targets: Target[] = [];
  const words = text.split(/[\s;&|()<>]+/).map((w) => w.replace(/^['"]|['"]$/g, '')).filter((w) => w !== '');
  for (const w of words) {
    const rel = path.posix.normalize(w.replace(/^\.\//, ''));
    if (rel.startsWith('..') || path.isAbsolute(rel) || rel.startsWith('-')) continue;
    if (isFile(path.join(workspace, rel))) targets.push({ rel, shown: rel });
  }
  if (words.some((w) => JS_RUNNERS.has(path.basename(w))) || /\bnode\s+--test\b/.test(text)) targets.push(...testTargets('js', workspace));
  if (words.some((w) => w === 'pytest') || /-m\s+(pytest|unittest)\b/.test(text)) targets.push(...testTargets('py', workspace));
  return targets;
}

/** The test files and runner configs in the workspace, or a representative path when there are none yet. */
function testTargets(kind: 'js' | 'py', workspace: string): Target[] {
  return kind === 'js' ? globTargets(workspace, JS_TESTS, 'test/example.test.js') : globTargets(workspace, PY_TESTS, 'tests/test_example.py');
}

function globTargets(workspace: string, globs: string[], representative: string): Target[] {
  const found = expandGlobs(globs, workspace);
  if (found.length > 0) return found.map((rel) => ({ rel, shown: rel }));
  return [{ rel: representative, shown: `the test files (none yet, such as ${representative})` }];
}

function present(workspace: string, names: string[], fallback: string): Target[] {
  const found = names.filter((n) => isFile(path.join(workspace, n)));
  return (found.length > 0 ? found : [fallback]).map((rel) => ({ rel, shown: rel }));
}

function fileTarget(file: string, workspace: string): Target {
  const rel = path.posix.normalize(path.isAbsolute(file) ? path.relative(workspace, file).split(path.sep).join('/') : file.replace(/^\.\//, ''));
  return { rel, shown: rel };
}

function clip(text: string): string {
  const t = text.trim();
  return t.length > 60 ? `${t.slice(0, 57)}…` : t;
}

interface PackageJson {
  scripts: Record<string, string>;
}

function readPackageJson(workspace: string): PackageJson | undefined {
  const file = path.join(workspace, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const scripts: Record<string, string> = {};
    if (isRecord(value) && isRecord(value.scripts)) for (const [k, v] of Object.entries(value.scripts)) if (typeof v === 'string') scripts[k] = v;
    return { scripts };
  } catch {
    return { scripts: {} };
  }
}

function globList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
