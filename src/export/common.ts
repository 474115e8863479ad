import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { children, parseExpression, parseTemplate, type Expr } from '../expr/index.js';
import type { Pipeline, StageNode } from '../config/pipeline.js';
import { durationMs } from '../config/units.js';

/**
 * What both exports need to know about a pipeline: how each top-level stage's condition maps to
 * the engine's status functions, which stages cannot be distributed as written, where the
 * repository root is, and how a job calls factory (docs/export.md).
 */
export const PACKAGE_NAME = 'software-factory';

/** The part of a stage's `if` a distributed engine can decide by itself. */
export type StatusCondition = 'success' | 'always' | 'failure' | 'cancelled';

export interface ExportProblem {
  stage: string;
  message: string;
}

/** Names of every function the expression calls. */
function calls(ast: Expr, into: Set<string>): Set<string> {
  if (ast.kind === 'call') into.add(ast.name.toLowerCase());
  for (const child of children(ast)) calls(child, into);
  return into;
}

/**
 * `success()`, `always()`, `failure()` and `cancelled()` map to the engine's own; any other
 * condition runs the job when GitHub's default (or `always()`, when the expression uses
 * `always()` or `failure()`) allows, and factory evaluates the rest inside the job.
 */
export function statusCondition(stage: StageNode): { status: StatusCondition; exact: boolean } {
  const text = stage.if.trim();
  const parsed = text.includes('${{') ? parseTemplate(text) : undefined;
  const source = parsed?.ok && parsed.parts.length === 1 && parsed.parts[0]!.kind === 'expr' ? parsed.parts[0]!.source : text;
  const ast = parseExpression(source);
  if (!ast.ok) return { status: 'success', exact: false };
  const used = calls(ast.ast, new Set());
  if (ast.ast.kind === 'call' && ast.ast.args.length === 0) {
    const name = ast.ast.name.toLowerCase();
    if (name === 'success' || name === 'always' || name === 'failure' || name === 'cancelled') return { status: name, exact: true };
  }
  if (used.has('always') || used.has('failure') || used.has('cancelled')) return { status: 'always', exact: false };
  return { status: 'success', exact: false };
}

/** Stages that a job-per-stage engine cannot run as written, each with the reason. */
export function exportProblems(pipeline: Pipeline, target: 'github-actions' | 'argo'): ExportProblem[] {
  const problems: ExportProblem[] = [];
  const gate = target === 'github-actions' ? 'a job bound to a GitHub environment' : 'a `suspend` step';
  const visit = (stages: readonly StageNode[], within?: StageNode) => {
    for (const stage of stages) {
      const def = stage.def as { on_timeout?: string; budget?: { on_exhausted?: string } };
      // Only a top-level approve becomes a gate the engine can hold; nested, it would wait inside
      // its loop's (or pipeline's) one job for a `factory approve` that no shell can reach.
      if (within && stage.kind === 'approve') {
        problems.push({
          stage: stage.path,
          message: `an approve stage inside the ${within.kind} "${within.path}" runs within that stage's one job, where it would wait for an answer nobody can give (only a top-level approve stage becomes ${gate}): move the gate to the top level, before or after "${within.path}", or run this pipeline with \`factory apply\``,
        });
      }
      if (target === 'github-actions' && stage.kind === 'approve' && def.on_timeout === 'approve') {
        problems.push({ stage: stage.path, message: 'an approve stage with `on_timeout: approve` cannot be expressed by a GitHub environment, whose pending reviews never approve by themselves: remove `on_timeout` (a gate fails closed) or export to Argo' });
      }
      if (def.budget?.on_exhausted === 'ask') {
        problems.push({ stage: stage.path, message: '`budget.on_exhausted: ask` waits for an answer inside a job that nobody can reach: use `stop` (the default) for a distributed run, or add an `approve` stage before it' });
      }
      if (stage.body) visit(stage.body.stages, within ?? stage);
    }
  };
  visit(pipeline.root.stages);
  return problems;
}

/** The git repository root that holds the workspace, or the workspace itself. */
export function repositoryRoot(workspace: string): string {
  for (let dir = workspace; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    if (path.dirname(dir) === dir) return workspace;
  }
}

/** The workspace relative to the repository root, POSIX style ('' when they are the same). */
export function workspaceInRepo(workspace: string): string {
  return path.relative(repositoryRoot(workspace), workspace).split(path.sep).join('/');
}

function dependsOnFactory(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown } & Record<string, Record<string, string> | undefined>;
    // This package's own repository (its examples) runs its own build.
    if (pkg.name === PACKAGE_NAME) return true;
    return [pkg.dependencies, pkg.devDependencies, pkg.optionalDependencies].some((deps) => deps !== undefined && PACKAGE_NAME in deps);
  } catch {
    return false;
  }
}

/**
 * How a job runs factory: the repository's own copy after `npm ci` when it depends on the
 * package, else this exact version fetched by npx — never a bare `npx factory`, which would
 * fetch an unrelated package of that name.
 */
export function factoryCommand(workspace: string, version: string): { command: string; installs: boolean } {
  const root = repositoryRoot(workspace);
  if (dependsOnFactory(workspace) || dependsOnFactory(root)) return { command: 'npx --no-install factory', installs: true };
  return { command: `npx -y -p ${PACKAGE_NAME}@${version} factory`, installs: false };
}

/** Whether the repository has a package.json to install (its own tests may need it). */
export function hasPackageJson(workspace: string): { dir: string; lockfile: boolean } | undefined {
  for (const dir of [workspace, repositoryRoot(workspace)]) {
    if (existsSync(path.join(dir, 'package.json'))) return { dir, lockfile: existsSync(path.join(dir, 'package-lock.json')) };
  }
  return undefined;
}

/** Minutes a job may take: the stage's timeout, else the run's wall time, else undefined. */
export function timeoutMinutes(stage: StageNode, pipeline: Pipeline): number | undefined {
  const wall = pipeline.config.budget?.wall_time;
  const own = (stage.def as { budget?: { wall_time?: string } }).budget?.wall_time;
  const ms = stage.timeoutMs ?? (own ? durationMs(own) : undefined) ?? (wall ? durationMs(wall) : undefined);
  return ms === undefined ? undefined : Math.max(1, Math.ceil(ms / 60_000));
}

export function wallTimeSeconds(pipeline: Pipeline): number | undefined {
  const wall = pipeline.config.budget?.wall_time;
  const ms = wall ? durationMs(wall) : undefined;
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}
