import { existsSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { parseTemplate, renderValue } from '../expr/index.js';
import { diagnostic, type Diagnostic } from './diagnostics.js';
import { loadYamlFile, locate, originOf, type LoadedFile, type PathSegment } from './load/load.js';
import type { JsonValue } from './pipeline.js';
import { validateAgainstSchema } from './schema.js';
import type { RawScope } from './check/scopes.js';
import { isFile } from '../base/is-file.js';

/** Directories never searched for context, inputs or scenarios. */
export const ALWAYS_IGNORED = ['**/node_modules/**', '**/.git/**', '**/.factory/**'];

/**
 * The files the patterns match in `dir`, relative and sorted. tinyglobby compiles a matcher for
 * every pattern and ignore at each call (3-4 ms of a cold `validate` a call), so what needs no
 * glob engine skips it: a plain path (`SPEC.md`) is looked up, and a pattern that cannot reach
 * the ignored folders (`scenarios/*.yaml`: wildcards in its last part only) is matched without
 * the ignores. test/config/files.test.ts checks both give what globbing everything gives.
 */
export function expandGlobs(patterns: readonly string[], dir: string): string[] {
  if (patterns.length === 0) return [];
  if (patterns.some((p) => p.startsWith('!'))) return glob(patterns, dir, true);
  const plain = patterns.filter(isPlainPath);
  const globs = patterns.filter((p) => !isPlainPath(p));
  const found = new Set(plain.filter((p) => isFile(path.join(dir, p))));
  if (globs.length > 0) for (const f of glob(globs, dir, globs.some(mayReachIgnored))) found.add(f);
  return [...found].sort();
}

function glob(patterns: readonly string[], dir: string, ignoring: boolean): string[] {
  return globSync([...patterns], { cwd: dir, ignore: ignoring ? ALWAYS_IGNORED : [], dot: true, onlyFiles: true, expandDirectories: false });
}

/** The names ALWAYS_IGNORED keeps out, as path parts. */
const IGNORED_PARTS = new Set(['node_modules', '.git', '.factory']);
/** Characters with a meaning to globs (picomatch), and the backslash that escapes them. */
const GLOB_CHARS = /[*?[\]{}()!+@\\]/;

/** A relative path written as it is: no glob characters, no `.`/`..` parts, nothing the ignores keep out. */
function isPlainPath(pattern: string): boolean {
  if (pattern === '' || GLOB_CHARS.test(pattern) || pattern.startsWith('/') || pattern.endsWith('/')) return false;
  return pattern.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !IGNORED_PARTS.has(part));
}

/**
 * Whether the ignores could change what a pattern matches: a wildcard before its last part, `..`,
 * an ignored name, or a last part that could match one (`*` matches a `.git` file, which the
 * ignores keep out). Only `*` is read in the last part; any other glob character counts as could.
 */
function mayReachIgnored(pattern: string): boolean {
  const parts = pattern.split('/');
  const last = parts.pop()!;
  if (parts.some((part) => GLOB_CHARS.test(part) || part === '..' || IGNORED_PARTS.has(part))) return true;
  if (!GLOB_CHARS.test(last)) return IGNORED_PARTS.has(last);
  if (GLOB_CHARS.test(last.replace(/\*/g, ''))) return true;
  const matcher = new RegExp(`^${last.split('*').map((s) => s.replace(/[.^$|]/g, '\\$&')).join('.*')}$`);
  return [...IGNORED_PARTS].some((name) => matcher.test(name));
}

function asList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * A glob written with expressions can be checked before the run only when it reads params:
 * those are known. Anything else (stage outputs) is left to the run.
 */
function staticGlob(pattern: string, params: Record<string, JsonValue>): string | undefined {
  if (!pattern.includes('${{')) return pattern;
  const parsed = parseTemplate(pattern);
  if (!parsed.ok) return undefined;
  const rendered = renderValue(pattern, { contexts: { params } });
  return rendered.ok && typeof rendered.value === 'string' ? rendered.value : undefined;
}

interface FileCheck {
  loaded: LoadedFile;
  dir: string;
  params: Record<string, JsonValue>;
  diagnostics: Diagnostic[];
  /** Scenario files already validated (several stages may share a glob). */
  scenarios: Set<string>;
  cwd: string;
}

/**
 * Files the pipeline names: scenario globs must match (and every scenario file must be valid),
 * context and inputs globs that match nothing are a warning, prompt_file must exist.
 */
/** `workspace` is where globs resolve: the folder of the factory.yaml given to apply (docs/templates.md). */
export function checkFiles(loaded: LoadedFile, root: RawScope, params: Record<string, JsonValue>, cwd: string, workspace = path.dirname(loaded.absPath)): Diagnostic[] {
  const check: FileCheck = { loaded, dir: workspace, params, diagnostics: [], scenarios: new Set(), cwd };
  checkScopeFiles(check, root);
  return check.diagnostics;
}

function checkScopeFiles(check: FileCheck, scope: RawScope): void {
  const { loaded } = check;
  for (const stage of scope.order) {
    const def = stage.def;
    if (def.kind === 'scenario-validate') {
      const at: PathSegment[] = [...stage.yamlPath, 'scenarios'];
      const patterns = asList(def.scenarios);
      patterns.forEach((pattern, i) => {
        const where = typeof def.scenarios === 'string' ? at : [...at, i];
        const glob = staticGlob(pattern, check.params);
        if (glob === undefined) return;
        const files = expandGlobs([glob], check.dir);
        if (files.length === 0) {
          check.diagnostics.push(diagnostic(loaded.file, locate(loaded, where), 'scenarios-empty',
            `the scenario glob "${glob}" of stage "${stage.path}" matches no file (searched in ${displayDir(check.dir, check.cwd)})`,
            'write scenario files there (see `factory init`), or fix the glob: an empty holdout would validate nothing'));
        }
        for (const f of files) checkScenarioFile(check, path.join(check.dir, f));
      });
    }
    const warnEmpty = (key: 'context' | 'inputs', hint: string) =>
      asList(def[key]).forEach((pattern, i) => {
        const glob = staticGlob(pattern, check.params);
        if (glob === undefined || expandGlobs([glob], check.dir).length > 0) return;
        check.diagnostics.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, key, i]), `${key}-empty`,
          `the ${key} glob "${glob}" of stage "${stage.path}" matches no file`, hint, 'warning'));
      });
    warnEmpty('context', 'the model will not see it; fix the glob or create the file');
    warnEmpty('inputs', 'its fingerprint will not see such a file until one exists; fix the glob or create the file');
    if (typeof def.prompt_file === 'string') {
      const file = staticGlob(def.prompt_file, check.params);
      // prompt_file alone resolves against the file that declares the stage (a template ships its prompts).
      const declaring = originOf(loaded, stage.yamlPath)?.origin.loaded.absPath ?? loaded.absPath;
      if (file !== undefined && !existsSync(path.resolve(path.dirname(declaring), file))) {
        check.diagnostics.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, 'prompt_file']), 'prompt-file-missing',
          `prompt_file "${file}" of stage "${stage.path}" does not exist`, 'paths are relative to the directory of the file that declares them'));
      }
    }
    if (stage.body) checkScopeFiles(check, stage.body);
  }
}

function checkScenarioFile(check: FileCheck, absPath: string): void {
  if (check.scenarios.has(absPath)) return;
  check.scenarios.add(absPath);
  const result = loadYamlFile(absPath, check.cwd);
  if (!result.ok) {
    check.diagnostics.push(...result.diagnostics);
    return;
  }
  check.diagnostics.push(...validateAgainstSchema(result.loaded, 'scenario'));
}

function displayDir(dir: string, cwd: string): string {
  const rel = path.relative(cwd, dir);
  return rel === '' ? '.' : rel;
}
