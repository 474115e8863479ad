import path from 'node:path';
import { checkAgentCost } from './agent-cost.js';
import { diagnostic, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { checkAllowedCommands } from './command-reach.js';
import { checkMcp } from './mcp.js';
import { checkOutputSchemas } from './output-schema.js';
import { checkSandboxWrites } from './sandbox-writes.js';
import { checkLearningsDir } from './learnings-dir.js';
import { checkProfiles } from './profiles.js';
import { checkChoices } from './choices.js';
import { checkFanout } from './fanout.js';
import { checkExpressions, checkRunHasNoExpressions } from './expressions.js';
import { checkFiles } from '../files.js';
import type { FactoryConfig, Stage } from '../generated/factory.js';
import { locate, originOf, type LoadedFile, type PathSegment } from '../load/load.js';
import { declaredParams, resolveParams } from '../templates/params.js';
import type { Pipeline, Scope, StageNode, TemplateCall } from '../pipeline.js';
import { validateAgainstSchema } from '../schema.js';
import { substituteStaticValues } from './static-values.js';
import { buildScopes, type RawScope, type RawStage } from './scopes.js';
import { durationMs, DURATION_HINT, tokenCount, TOKENS_HINT } from '../units.js';
import { checkUses } from '../templates/uses.js';
import { isRecord } from '../../base/is-record.js';
import type { CheckOptions, CheckResult } from './options.js';

export type { CheckOptions, CheckResult };

const DEFAULT_RETRIES = 2;
const DEFAULT_CONCURRENCY = 4;
/** Kinds that do work themselves: they take retries and hold a concurrency slot. */
export const WORK_KINDS: ReadonlySet<string> = new Set(['command', 'plan', 'generate', 'review', 'scenario-validate', 'learn']);


/** Schema, then semantics: every problem of the file in one pass, sorted by position. */
export function checkConfig(file: LoadedFile, options: CheckOptions): CheckResult {
  const params = resolveParams(file, options.set, options.forRun, options.paramValues);
  const declared = new Set(declaredParams(file.value).keys());
  // Typed keys written as expressions over params take their values first (static-values.ts).
  const substituted = substituteStaticValues(file, { values: params.values, declared, runtime: options.runtimeParams ?? new Set() });
  const loaded = substituted.loaded;
  const diagnostics: Diagnostic[] = [...validateAgainstSchema(loaded, 'factory'), ...substituted.diagnostics];
  const config = isRecord(loaded.value) ? loaded.value : {};
  diagnostics.push(...params.diagnostics);
  const { root, diagnostics: graph } = buildScopes(loaded, options.prefix);
  const workspace = options.workspace ?? path.dirname(loaded.absPath);
  diagnostics.push(...graph);
  diagnostics.push(...checkRunHasNoExpressions(loaded, root));
  diagnostics.push(...checkExpressions(loaded, root, declared));
  diagnostics.push(...checkUnits(loaded, config, root));
  diagnostics.push(...checkStageRules(loaded, root, options.outerProfiles ?? new Set()));
  diagnostics.push(...checkProfiles(loaded, root, options.outerProfiles ?? new Set()));
  diagnostics.push(...checkChoices(loaded, root));
  const paramsKnown = [...declared].every((id) => id in params.values && !(options.runtimeParams?.has(id) ?? false));
  diagnostics.push(...checkFanout(loaded, root, params.values, paramsKnown));
  diagnostics.push(...checkFiles(loaded, root, params.values, options.cwd ?? process.cwd(), workspace));
  diagnostics.push(...checkAllowedCommands(loaded, root, workspace));
  diagnostics.push(...checkMcp(loaded, root));
  diagnostics.push(...checkOutputSchemas(loaded, root, options.cwd ?? process.cwd()));
  diagnostics.push(...checkSandboxWrites(loaded, config, root, workspace));
  diagnostics.push(...checkLearningsDir(loaded, config, root, workspace));
  const uses = checkUses(loaded, root, options, checkConfig);
  diagnostics.push(...uses.diagnostics);
  const unique = dedupe(diagnostics);
  sortDiagnostics(unique);
  if (unique.some((d) => d.severity === 'error')) return { diagnostics: unique };
  const typed = config as unknown as FactoryConfig;
  const concurrency = options.concurrency ?? (typeof typed.concurrency === 'number' ? typed.concurrency : DEFAULT_CONCURRENCY);
  const pipeline: Pipeline = {
    file: loaded.file,
    absPath: loaded.absPath,
    dir: workspace,
    name: typeof typed.name === 'string' ? typed.name : path.basename(path.dirname(loaded.absPath)),
    config: typed,
    params: params.values,
    concurrency,
    root: toScope(loaded, root, typed, uses.calls),
  };
  if (typeof typed.description === 'string') pipeline.description = typed.description;
  // Budgets over the whole run, templates included: judged once, from the run's own file.
  if (options.prefix === undefined) {
    const agents = checkAgentCost(pipeline);
    if (agents.length > 0) return { diagnostics: sortDiagnostics([...unique, ...agents]) };
  }
  return { diagnostics: unique, pipeline };
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    // Command-line problems have no position: tell them apart by message.
    const key = `${d.file}:${d.line}:${d.column}:${d.code}${d.line === 0 ? `:${d.message}` : ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Durations and token counts the schema lets through by shape but that do not parse. */
function checkUnits(loaded: LoadedFile, config: Record<string, unknown>, root: RawScope): Diagnostic[] {
  const out: Diagnostic[] = [];
  const duration = (value: unknown, at: PathSegment[]) => {
    if (typeof value === 'string' && durationMs(value) === undefined) {
      out.push(diagnostic(loaded.file, locate(loaded, at), 'bad-duration', `"${value}" is not a duration`, DURATION_HINT));
    }
  };
  const tokens = (value: unknown, at: PathSegment[]) => {
    if ((typeof value === 'string' || typeof value === 'number') && tokenCount(value) === undefined) {
      out.push(diagnostic(loaded.file, locate(loaded, at), 'bad-tokens', `${JSON.stringify(value)} is not a token count`, TOKENS_HINT));
    }
  };
  const budget = (b: unknown, at: PathSegment[]) => {
    if (!isRecord(b)) return;
    tokens(b.tokens, [...at, 'tokens']);
    duration(b.wall_time, [...at, 'wall_time']);
    duration(b.timeout, [...at, 'timeout']);
    if (isRecord(b.extend)) {
      tokens(b.extend.tokens, [...at, 'extend', 'tokens']);
      duration(b.extend.wall_time, [...at, 'extend', 'wall_time']);
    }
  };
  budget(config.budget, ['budget']);
  if (isRecord(config.defaults)) duration(config.defaults.timeout, ['defaults', 'timeout']);
  if (isRecord(config.watch)) duration(config.watch.debounce, ['watch', 'debounce']);
  for (const [name, server] of Object.entries(isRecord(config.mcp_servers) ? config.mcp_servers : {})) {
    if (isRecord(server)) for (const k of ['startup_timeout', 'call_timeout']) duration(server[k], ['mcp_servers', name, k]);
  }
  for (const vendor of ['anthropic', 'openai']) {
    const settings = isRecord(config.providers) ? config.providers[vendor] : undefined;
    if (isRecord(settings)) for (const k of ['request_timeout', 'stream_idle_timeout']) duration(settings[k], ['providers', vendor, k]);
  }
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      duration(s.def.timeout, [...s.yamlPath, 'timeout']);
      budget(s.def.budget, [...s.yamlPath, 'budget']);
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}

/** Rules that need more than one key to judge. */
function checkStageRules(loaded: LoadedFile, scope: RawScope, outerProfiles: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of scope.order) {
    const { def } = s;
    if ((def.kind === 'plan' || def.kind === 'generate') && def.prompt === undefined && def.prompt_file === undefined) {
      out.push(diagnostic(loaded.file, locate(loaded, s.yamlPath, 'key'), 'missing-prompt', `stage "${s.path}" (${def.kind}) has neither \`prompt\` nor \`prompt_file\``,
        'add `prompt:` with the instruction, or `prompt_file:` naming a file that holds it'));
    }
    if (def.prompt !== undefined && def.prompt_file !== undefined) {
      out.push(diagnostic(loaded.file, locate(loaded, [...s.yamlPath, 'prompt_file'], 'key'), 'prompt-twice', `stage "${s.path}" has both \`prompt\` and \`prompt_file\``, 'keep one of them'));
    }
    const external = def.kind === 'generate' && def.agent !== undefined;
    if ((def.kind === 'plan' || def.kind === 'generate' || def.kind === 'review' || def.kind === 'learn') && !external && !namesModel(loaded, def, outerProfiles)) {
      out.push(diagnostic(loaded.file, locate(loaded, s.yamlPath, 'key'), 'missing-model', `stage "${s.path}" (${def.kind}) names no model`,
        'add `model:` to the stage, or `defaults: { model: claude-sonnet-5-5 }` for every model stage'));
    }
    if (s.body) out.push(...checkStageRules(loaded, s.body, outerProfiles));
  }
  return out;
}

/** The stage, its profile or `defaults` names a model (a caller's profile, unknown here, is taken to). */
function namesModel(loaded: LoadedFile, def: Record<string, unknown>, outerProfiles: ReadonlySet<string>): boolean {
  const config = isRecord(loaded.value) ? loaded.value : {};
  const defaults = isRecord(config.defaults) ? config.defaults : {};
  if (def.model !== undefined || defaults.model !== undefined) return true;
  const name = def.profile ?? defaults.profile;
  if (typeof name !== 'string') return false;
  const profile = isRecord(config.profiles) ? config.profiles[name] : undefined;
  return isRecord(profile) ? profile.model !== undefined : outerProfiles.has(name) || profile === undefined;
}

/** Where a stage was declared: the template that brought it, or the file itself. */
function sourceOf(loaded: LoadedFile, yamlPath: PathSegment[]): StageNode['source'] {
  const declaring = originOf(loaded, yamlPath)?.origin.loaded ?? loaded;
  return {
    file: declaring.file,
    dir: path.dirname(declaring.absPath),
    locate: (keyPath, which) => locate(loaded, [...yamlPath, ...keyPath], which),
  };
}

function toScope(loaded: LoadedFile, raw: RawScope, config: FactoryConfig, calls: ReadonlyMap<string, TemplateCall>): Scope {
  const stages = raw.order.map((s) => toNode(loaded, s, config, calls));
  return { path: raw.path, stages, byId: new Map(stages.map((s) => [s.id, s])) };
}

function toNode(loaded: LoadedFile, raw: RawStage, config: FactoryConfig, calls: ReadonlyMap<string, TemplateCall>): StageNode {
  const def = raw.def as unknown as Stage;
  const kind = def.kind;
  const work = WORK_KINDS.has(kind);
  const defaults = (config.defaults ?? {}) as { timeout?: string; retries?: number };
  const ownTimeout = typeof raw.def.timeout === 'string' ? raw.def.timeout : undefined;
  const timeoutText = ownTimeout ?? (work ? defaults.timeout : undefined);
  const ownRetries = typeof raw.def.retries === 'number' ? raw.def.retries : undefined;
  const node: StageNode = {
    id: raw.id,
    path: raw.path,
    kind,
    needs: [...raw.needs],
    upstream: raw.upstream,
    if: typeof raw.def.if === 'string' ? raw.def.if : '${{ success() }}',
    continueOnError: raw.def.continue_on_error === true,
    timeoutMs: timeoutText === undefined ? undefined : durationMs(timeoutText),
    retries: work ? ownRetries ?? defaults.retries ?? DEFAULT_RETRIES : 0,
    def,
    source: sourceOf(loaded, raw.yamlPath),
  };
  if (raw.body) node.body = toScope(loaded, raw.body, config, calls);
  const call = calls.get(raw.path);
  if (call) {
    node.template = call;
    node.body = call.pipeline.root;
  }
  return node;
}
