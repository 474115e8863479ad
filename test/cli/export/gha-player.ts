import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { globSync } from 'tinyglobby';
import { parse } from 'yaml';

/**
 * Plays a GitHub Actions workflow on this machine, for tests: every job in its own fresh clone of
 * a repository, in topological order of `needs`, honouring job and step `if` (success(),
 * always(), failure()), `continue-on-error`, and passing only the artifacts the workflow uploads
 * and downloads — upload-artifact and download-artifact are played the way the actions lay
 * files out (an artifact's root is the least common ancestor of its search paths). Checkout and
 * setup-node are skipped (the clone exists, node is here); installing dependencies is left to
 * the caller (tests link node_modules). Anything else the player does not know fails loudly.
 */
export type JobResult = 'success' | 'failure' | 'skipped';

export interface PlayedStep {
  name: string;
  outcome: 'success' | 'failure' | 'skipped';
  stdout: string;
  stderr: string;
}

export interface PlayedJob {
  id: string;
  result: JobResult;
  /** The job's clone (undefined when the job was skipped). */
  dir?: string;
  steps: PlayedStep[];
}

export interface PlayOptions {
  /** The repository to clone for each job. */
  repo: string;
  /** Where clones and artifacts go. */
  work: string;
  /** The runner's environment (PATH, HOME, …). */
  env: Record<string, string>;
  github: { run_id: string; run_attempt: string };
  secrets: Record<string, string>;
  /** Plays `npm ci` / `npm install` in that folder. */
  install(dir: string): void;
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  'working-directory'?: string;
}

interface Job {
  needs?: string | string[];
  if?: string;
  'continue-on-error'?: boolean;
  env?: Record<string, string>;
  defaults?: { run?: { 'working-directory'?: string } };
  steps: Step[];
}

interface Workflow {
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

export async function playWorkflow(yamlText: string, options: PlayOptions): Promise<PlayedJob[]> {
  const wf = parse(yamlText) as Workflow;
  const artifacts = path.join(options.work, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const results = new Map<string, JobResult>();
  const played: PlayedJob[] = [];
  for (const id of jobOrder(wf)) {
    const job = wf.jobs[id]!;
    const needs = needsOf(job);
    const status = {
      success: () => needs.every((n) => results.get(n) === 'success'),
      failure: () => ancestors(wf, id).some((n) => results.get(n) === 'failure'),
      always: () => true,
      cancelled: () => false,
    };
    if (!condition(job.if, status)) {
      results.set(id, 'skipped');
      played.push({ id, result: 'skipped', steps: [] });
      continue;
    }
    const dir = path.join(options.work, 'jobs', id);
    const cloned = await runShell(`git clone -q "${options.repo}" "${dir}"`, options.work, options.env);
    if (cloned.code !== 0) throw new Error(`git clone failed: ${cloned.stderr}`);
    const ctx: Context = { github: options.github, secrets: options.secrets, env: {} };
    ctx.env = { ...options.env, CI: 'true', GITHUB_WORKSPACE: dir, GITHUB_ACTIONS: 'true' };
    for (const [k, v] of Object.entries(wf.env ?? {})) ctx.env[k] = substitute(String(v), ctx);
    for (const [k, v] of Object.entries(job.env ?? {})) ctx.env[k] = substitute(String(v), ctx);
    let failed = false;
    const steps: PlayedStep[] = [];
    for (const step of job.steps) {
      const name = step.name ?? step.uses ?? step.run ?? '?';
      const stepStatus = { success: () => !failed, failure: () => failed, always: () => true, cancelled: () => false };
      if (!condition(step.if, stepStatus)) {
        steps.push({ name, outcome: 'skipped', stdout: '', stderr: '' });
        continue;
      }
      const outcome = await playStep(step, { dir, job, ctx, artifacts, options });
      steps.push({ name, ...outcome });
      if (outcome.outcome === 'failure') failed = true;
    }
    const result: JobResult = failed && !job['continue-on-error'] ? 'failure' : 'success';
    results.set(id, result);
    played.push({ id, result, dir, steps });
  }
  return played;
}

interface Context {
  github: { run_id: string; run_attempt: string };
  secrets: Record<string, string>;
  env: Record<string, string>;
}

interface StepInput {
  dir: string;
  job: Job;
  ctx: Context;
  artifacts: string;
  options: PlayOptions;
}

async function playStep(step: Step, input: StepInput): Promise<Omit<PlayedStep, 'name'>> {
  const { dir, job, ctx } = input;
  const done = (ok: boolean, stdout = '', stderr = '') => ({ outcome: ok ? ('success' as const) : ('failure' as const), stdout, stderr });
  const withs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, typeof v === 'string' ? substitute(v, ctx) : v]));
  if (step.uses !== undefined) {
    const action = step.uses.replace(/@.*$/, '');
    if (action === 'actions/checkout' || action === 'actions/setup-node') return done(true);
    if (action === 'actions/upload-artifact') return upload(dir, input.artifacts, withs);
    if (action === 'actions/download-artifact') return download(dir, input.artifacts, withs);
    throw new Error(`the player does not know the action ${step.uses}`);
  }
  if (step.run === undefined) throw new Error(`a step with neither run nor uses: ${JSON.stringify(step)}`);
  const cwd = path.join(dir, step['working-directory'] ?? job.defaults?.run?.['working-directory'] ?? '.');
  const run = substitute(step.run, ctx);
  if (/^npm (ci|install)$/.test(run.trim())) {
    input.options.install(cwd);
    return done(true);
  }
  const env = { ...ctx.env };
  for (const [k, v] of Object.entries(step.env ?? {})) env[k] = substitute(String(v), ctx);
  const r = await runShell(run, cwd, env);
  return done(r.code === 0, r.stdout, r.stderr);
}

/** upload-artifact@v4: the files the globs match, laid out under the least common ancestor of the search paths. */
function upload(dir: string, artifacts: string, withs: Record<string, unknown>): Omit<PlayedStep, 'name'> {
  const name = String(withs.name ?? 'artifact');
  const patterns = String(withs.path ?? '').split('\n').map((p) => p.trim()).filter(Boolean);
  const hidden = withs['include-hidden-files'] === true || withs['include-hidden-files'] === 'true';
  const files = new Set<string>();
  for (const pattern of patterns) {
    for (const rel of globSync(pattern, { cwd: dir, dot: true, onlyFiles: true })) {
      if (!hidden && rel.split('/').some((seg) => seg.startsWith('.'))) continue;
      files.add(path.join(dir, rel));
    }
  }
  const searchPaths = [...new Set(patterns.map((p) => searchPath(path.join(dir, p))))].filter((p, _, all) => !all.some((o) => o !== p && p.startsWith(`${o}/`)));
  let root: string;
  if (searchPaths.length > 1) root = lca(searchPaths);
  else if (files.size === 1 && searchPaths[0] === [...files][0]) root = path.dirname(searchPaths[0]!);
  else root = searchPaths[0]!;
  if (files.size === 0) {
    const ifNone = String(withs['if-no-files-found'] ?? 'warn');
    return { outcome: ifNone === 'error' ? 'failure' : 'success', stdout: `no files found for ${name}`, stderr: '' };
  }
  const target = path.join(artifacts, name);
  if (existsSync(target)) return { outcome: 'failure', stdout: '', stderr: `an artifact named ${name} already exists` };
  for (const file of files) {
    const rel = path.relative(root, file);
    mkdirSync(path.dirname(path.join(target, rel)), { recursive: true });
    cpSync(file, path.join(target, rel));
  }
  return { outcome: 'success', stdout: [...files].map((f) => path.relative(root, f)).sort().join('\n'), stderr: '' };
}

/** download-artifact@v4 with `pattern` (and `merge-multiple`), or `name`. */
function download(dir: string, artifacts: string, withs: Record<string, unknown>): Omit<PlayedStep, 'name'> {
  const target = path.resolve(dir, String(withs.path ?? '.'));
  const names = readdirSync(artifacts).sort();
  const merge = withs['merge-multiple'] === true || withs['merge-multiple'] === 'true';
  const chosen = withs.name !== undefined ? names.filter((n) => n === withs.name) : names.filter((n) => picomatch(String(withs.pattern ?? '*'))(n));
  for (const name of chosen) {
    const into = withs.name !== undefined || merge ? target : path.join(target, name);
    mkdirSync(into, { recursive: true });
    cpSync(path.join(artifacts, name), into, { recursive: true });
  }
  return { outcome: 'success', stdout: chosen.join('\n'), stderr: '' };
}

/** The folder part of a glob before its first wildcard segment, as @actions/glob computes it. */
function searchPath(pattern: string): string {
  const parts = pattern.split('/');
  const i = parts.findIndex((p) => /[*?[]/.test(p));
  return i === -1 ? pattern : parts.slice(0, i).join('/') || '/';
}

function lca(paths: string[]): string {
  const split = paths.map((p) => p.split('/'));
  const out: string[] = [];
  for (let i = 0; split.every((s) => i < s.length && s[i] === split[0]![i]); i++) out.push(split[0]![i]!);
  return out.join('/') || '/';
}

function needsOf(job: Job): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

function ancestors(wf: Workflow, id: string): string[] {
  const out = new Set<string>();
  const visit = (j: string) => {
    for (const n of needsOf(wf.jobs[j]!)) if (!out.has(n)) { out.add(n); visit(n); }
  };
  visit(id);
  return [...out];
}

function jobOrder(wf: Workflow): string[] {
  const out: string[] = [];
  const visit = (id: string, seen: Set<string>) => {
    if (out.includes(id)) return;
    if (seen.has(id)) throw new Error(`a cycle of needs through ${id}`);
    seen.add(id);
    for (const n of needsOf(wf.jobs[id]!)) visit(n, seen);
    out.push(id);
  };
  for (const id of Object.keys(wf.jobs)) visit(id, new Set());
  return out;
}

/** `if:` with one status function, as the exporter writes them; anything else is refused. */
function condition(text: string | undefined, status: Record<'success' | 'failure' | 'always' | 'cancelled', () => boolean>): boolean {
  if (text === undefined) return status.success();
  const m = /^\s*(?:\$\{\{\s*)?(success|failure|always|cancelled)\(\)\s*(?:\}\})?\s*$/.exec(text);
  if (!m) throw new Error(`the player cannot evaluate the condition ${text}`);
  return status[m[1] as keyof typeof status]();
}

function substitute(text: string, ctx: Context): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    const m = /^(env|secrets|github)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) throw new Error(`the player cannot evaluate \${{ ${expr} }}`);
    const source = m[1] === 'env' ? ctx.env : m[1] === 'secrets' ? ctx.secrets : (ctx.github as unknown as Record<string, string>);
    const value = source[m[2]!];
    if (value === undefined && m[1] !== 'secrets') throw new Error(`the player has no value for \${{ ${expr} }}`);
    return value ?? '';
  });
}

export function runShell(command: string, cwd: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: String(err) }));
  });
}

/** Every file of a folder (without .git, .factory, node_modules), by relative path. */
export function treeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      if (rel === '' && (name === '.git' || name === '.factory' || name === 'node_modules')) continue;
      const abs = path.join(d, name);
      if (statSync(abs).isDirectory()) walk(abs, rel ? `${rel}/${name}` : name);
      else out.push(rel ? `${rel}/${name}` : name);
    }
  };
  walk(dir, '');
  return out;
}
