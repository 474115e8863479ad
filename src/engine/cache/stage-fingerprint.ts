import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { JsonValue, Pipeline, Scope, StageNode } from '../../config/pipeline.js';
import { renderValue, type EvalContext, type Value } from '../../expr/index.js';
import { canonicalJson, hashText, type FileHash, type FingerprintParts } from './fingerprint.js';
import { renderAt } from '../expressions.js';
import { unreachable } from '../../base/unreachable.js';
import { LLM_KINDS, stageProfile } from '../../config/stage-model.js';
import { learningsForStage } from '../../learnings/for-stage.js';
import { includedKey, learningsUseOf } from '../../learnings/select.js';
import { learningsDirOf } from '../../config/learnings.js';
import { modelOf } from '../models/preflight.js';

/**
 * What goes into a stage's fingerprint (docs/cache-and-watch.md), computed the same way when a stage is
 * about to run and by `factory plan` before anything runs:
 * - its definition as written (without `if`, which decides whether it runs, not what it does,
 *   and `description`) and rendered with the contexts it sees, its dotted path (two stages with
 *   the same definition never share a result), the model settings it inherits, and for stages
 *   that run processes the pipeline's `env:`;
 * - the content of the files its `inputs` and `context` globs match (sorted, by content), of its
 *   `prompt_file`, and of a scenario-validate's scenario files; for a loop, those of its body;
 * - for each stage it needs, that stage's fingerprint, status and outputs;
 * - the model (a loop: its body's models);
 * - a review's diff (hashed);
 * - the learnings a model stage reads (`learnings:`), with their freshness (hashed).
 */
export interface FingerprintInput {
  node: StageNode;
  /** The pipeline whose `defaults:` the stage takes (a called template's own). */
  owner: Pipeline;
  workspace: string;
  /** The contexts the stage's expressions read (no `loop`: stages inside loops are not cached one by one). */
  contexts: Record<string, Value>;
  /** The pipeline's `env:` rendered, for stages that run processes. */
  pipelineEnv: Readonly<Record<string, string>> | undefined;
  /** A token per need (see needToken). */
  needs: Readonly<Record<string, string>>;
  /** Content hashes of the workspace files the globs match, sorted by path. */
  hashFiles(globs: readonly string[]): FileHash[];
  /** A review's diff; called only for a review with `diff` on. */
  diff?(): string;
}

export type Computed = { ok: true; fingerprint: string; parts: FingerprintParts } | { ok: false; message: string };

/** Kinds that run processes: the pipeline's env is part of what they do. */
const PROCESS_KINDS = new Set(['command', 'scenario-validate', 'generate', 'loop']);
const MODEL_KINDS = new Set(['plan', 'generate', 'review', 'scenario-validate', 'learn']);
/** Keys never rendered: conditions, and a loop's body (rendered leniently, below). */
const RAW_ONLY = new Set(['if', 'until', 'stages', 'description']);

/**
 * What a need contributes: its fingerprint and status. Its outputs count where the stage reads
 * them, through its rendered definition — so a command without inputs, which runs every time,
 * does not make everything after it run again (docs/cache-and-watch.md).
 */
export function needToken(o: { fingerprint?: string | null; status: string }): string {
  return `${o.fingerprint ?? '-'}:${o.status}`;
}

/** A stage's definition as written (without `if` and `description`), its canonical text, and whether it holds expressions; once per node. */
const written = new WeakMap<StageNode, { stage: Record<string, JsonValue>; text: string; expressions: boolean }>();

function writtenOf(node: StageNode): { stage: Record<string, JsonValue>; text: string; expressions: boolean } {
  let hit = written.get(node);
  if (!hit) {
    const stage: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(node.def as unknown as Record<string, JsonValue | undefined>)) if (k !== 'if' && k !== 'description' && v !== undefined) stage[k] = v;
    const text = canonicalJson(stage);
    hit = { stage, text, expressions: text.includes('${{') };
    written.set(node, hit);
  }
  return hit;
}

export function stageFingerprint(input: FingerprintInput): Computed {
  const { node } = input;
  const def = node.def as unknown as Record<string, JsonValue>;
  const { stage, text, expressions } = writtenOf(node);
  const ctx: EvalContext = { contexts: input.contexts };
  // Without expressions the rendered definition is the written one: it adds nothing.
  const rendered: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(stage)) {
    if (RAW_ONLY.has(k)) continue;
    if (!expressions) {
      rendered[k] = v;
      continue;
    }
    const r = renderAt(node, [k], v, ctx);
    if (!r.ok) return { ok: false, message: r.message };
    rendered[k] = r.value;
  }
  if (node.body && def.stages !== undefined) rendered.stages = expressions ? lenient(def.stages, ctx) : def.stages;

  const defaults = (input.owner.config.defaults ?? {}) as { max_tokens?: number; temperature?: number; effort?: string; thinking?: string | number };
  const definition: Record<string, JsonValue> = { path: node.path, stage, rendered: expressions ? rendered : null };
  if (MODEL_KINDS.has(node.kind) || node.kind === 'loop') {
    definition.defaults = { max_tokens: defaults.max_tokens ?? null, temperature: defaults.temperature ?? null };
    // Only when set, so that the fingerprints of pipelines without them stay what they were.
    if (defaults.effort !== undefined) definition.defaults.effort = defaults.effort;
    if (defaults.thinking !== undefined) definition.defaults.thinking = defaults.thinking;
    const profile = stageProfile([input.owner], node);
    if (profile) definition.profile = { name: profile.name, ...(profile.settings as Record<string, JsonValue>) };
  }
  if (PROCESS_KINDS.has(node.kind) && input.pipelineEnv) definition.env = { ...input.pipelineEnv };

  const files = filesOf(input, node, rendered);
  const parts: FingerprintParts = { kind: node.kind, definition, files, needs: Object.assign(keyedByStage<string>(), input.needs) };
  const model = modelsOf(input.owner, node);
  if (model !== undefined) parts.model = model;
  if (node.kind === 'review' && def.diff !== false && input.diff) parts.extra = { diff: hashText(input.diff()) };
  const learned = learningsPart(input, node, expressions ? rendered : stage);
  if (learned !== undefined) parts.extra = { ...parts.extra, learnings: learned };
  return { ok: true, fingerprint: digest(parts, text), parts };
}

/**
 * The learnings a model stage reads (`learnings:`), their text and freshness, hashed — for a
 * loop, those its body's stages read; undefined when it reads none, so that a learning it would
 * not read leaves its fingerprint alone.
 */
function learningsPart(input: FingerprintInput, node: StageNode, values: Record<string, JsonValue>): string | undefined {
  const keys: string[] = [];
  const add = (n: StageNode, vals: Record<string, JsonValue>) => {
    if (!LLM_KINDS.has(n.kind)) return;
    const use = learningsUseOf((n.def as { learnings?: unknown }).learnings);
    if (!use) return;
    const { included } = learningsForStage(input.workspace, learningsDirOf(input.owner.config), use, vals);
    if (included.length > 0) keys.push(n === node ? includedKey(included) : `${n.path}\u0000${includedKey(included)}`);
  };
  add(node, values);
  if (node.kind === 'loop' && node.body) {
    const visit = (scope: Scope) => {
      for (const inner of scope.stages) {
        add(inner, lenient(inner.def as unknown as JsonValue, { contexts: input.contexts }) as Record<string, JsonValue>);
        if (inner.body) visit(inner.body);
      }
    };
    visit(node.body);
  }
  return keys.length === 0 ? undefined : hashText(keys.join('\u0001'));
}

/** Bumped when what goes into a stage's fingerprint changes, so old cache entries stop matching. */
const STAGE_FINGERPRINT_VERSION = 1;

/**
 * The fingerprint of the parts: one hash over their canonical texts (the written definition's,
 * computed once per node, reused) — the same value for the same parts, whatever key order.
 */
function digest(parts: FingerprintParts, writtenText: string): string {
  const { stage: _stage, ...definition } = parts.definition as Record<string, JsonValue>;
  const needs = Object.keys(parts.needs).sort().map((k) => `${k}=${parts.needs[k]}`).join(',');
  const files = parts.files.map((f) => `${f.path}\u0000${f.hash}`).join('\u0001');
  const extra = parts.extra ? canonicalJson(parts.extra) : '';
  return hashText([`v${STAGE_FINGERPRINT_VERSION}`, parts.kind, writtenText, canonicalJson(definition), files, needs, parts.model ?? '', extra].join('\u0002'));
}

/** Strings rendered where they can be (outer stages, params); what reads the loop or the body stays as written, beside. */
function lenient(value: JsonValue, ctx: EvalContext): JsonValue {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return value;
    const r = renderValue(value, ctx);
    return r.ok ? r.value : '\u0000unrendered';
  }
  if (Array.isArray(value)) return value.map((v) => lenient(v, ctx));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, lenient(v, ctx)]));
  return value;
}

function asList(value: JsonValue | undefined): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is string => typeof v === 'string' && v !== '' && !v.includes('\u0000'));
}

/** The files a stage reads by name: context, inputs, scenarios, prompt_file, output_schema_file (a loop: its body's too). */
function filesOf(input: FingerprintInput, node: StageNode, rendered: Record<string, JsonValue>): FileHash[] {
  const globs: string[] = [];
  const prompts: FileHash[] = [];
  const collect = (n: StageNode, values: Record<string, JsonValue>) => {
    globs.push(...asList(values.context), ...asList(values.inputs));
    if (n.kind === 'scenario-validate') globs.push(...asList(values.scenarios));
    // Files named by key (the prompt, the output schema) count by content, under that key.
    for (const key of ['prompt_file', 'output_schema_file']) {
      const named = values[key];
      if (typeof named !== 'string' || named === '') continue;
      const abs = path.resolve(n.source.dir, named);
      prompts.push({ path: `${key}:${path.relative(input.workspace, abs).split(path.sep).join('/')}`, hash: hashFile(abs) });
    }
  };
  collect(node, rendered);
  if (node.body && node.kind === 'loop') {
    const visit = (scope: Scope) => {
      for (const inner of scope.stages) {
        collect(inner, lenient(inner.def as unknown as JsonValue, { contexts: input.contexts }) as Record<string, JsonValue>);
        if (inner.body) visit(inner.body);
      }
    };
    visit(node.body);
  }
  const seen = new Map<string, FileHash>();
  for (const f of input.hashFiles([...new Set(globs)])) seen.set(f.path, f);
  for (const f of prompts) seen.set(f.path, f);
  return [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function hashFile(abs: string): string {
  try {
    return hashText(readFileSync(abs));
  } catch {
    return 'missing';
  }
}

/** The model a stage uses; a loop's body models, by path. */
function modelsOf(owner: Pipeline, node: StageNode): string | undefined {
  if (node.kind === 'loop' && node.body) {
    const models: Record<string, string> = {};
    const visit = (scope: Scope) => {
      for (const inner of scope.stages) {
        const m = MODEL_KINDS.has(inner.kind) ? modelOf(owner, inner) : undefined;
        if (m !== undefined) models[inner.path] = m;
        if (inner.body) visit(inner.body);
      }
    };
    visit(node.body);
    return Object.keys(models).length ? canonicalJson(models) : undefined;
  }
  if (!MODEL_KINDS.has(node.kind)) return undefined;
  if (node.kind === 'generate' && (node.def as { agent?: unknown }).agent !== undefined) return undefined;
  return modelOf(owner, node);
}

/**
 * Whether a stage is cached at all (docs/cache-and-watch.md): plan, review and generate (without MCP tools) always; command
 * and scenario-validate only with `inputs` (an empty list allowed); a loop as a whole; a
 * pipeline stage through its body's stages; nothing inside a loop's body on its own.
 */
export function cacheableKind(node: StageNode): boolean {
  switch (node.kind) {
    case 'plan':
    case 'review':
    case 'loop':
    case 'learn':
      // A learn stage with the learning files it wrote, re-applied on a hit (like generate's changes).
      return true;
    case 'generate':
      return !usesMcp(node);
    case 'command':
    case 'scenario-validate':
      return Array.isArray((node.def as { inputs?: unknown }).inputs);
    case 'approve':
    case 'pipeline':
      return false;
    default:
      return unreachable(node.kind, 'stage kind');
  }
}

/**
 * A generate stage with MCP tools acts on servers whose state no fingerprint holds (a memory,
 * a database, an issue tracker): it runs every time, like a command without `inputs`.
 */
export function usesMcp(node: StageNode): boolean {
  const tools = (node.def as { tools?: unknown }).tools;
  return node.kind === 'generate' && Array.isArray(tools) && tools.some((t) => typeof t === 'string' && t.startsWith('mcp:'));
}

/** Kinds that may write files (whose changes the snapshots attribute). */
export function mayWrite(node: StageNode): boolean {
  switch (node.kind) {
    case 'command':
    case 'generate':
    case 'scenario-validate':
    case 'learn':
      return true;
    case 'plan':
      return (node.def as { write?: unknown }).write !== undefined;
    case 'review':
    case 'loop':
    case 'approve':
    case 'pipeline':
      return false;
    default:
      return unreachable(node.kind, 'stage kind');
  }
}

/** The dotted paths of every stage inside a loop's body (templates called by pipeline stages included). */
export function loopBodyPaths(root: Scope): Set<string> {
  const out = new Set<string>();
  const visit = (scope: Scope, inLoop: boolean) => {
    for (const node of scope.stages) {
      if (inLoop) out.add(node.path);
      const inner = node.body ?? node.template?.pipeline.root;
      if (inner) visit(inner, inLoop || node.kind === 'loop');
    }
  };
  visit(root, false);
  return out;
}

/**
 * An empty object to be keyed by stage ids. V8 gives an object literal a hidden class per set of
 * keys, so 10,000 stages' `needs`, each with ids of their own, made 10,000 classes (a tenth of
 * a 10,000-stage `plan`); an object without a prototype is a plain dictionary from the start.
 * JSON and key order are the same.
 */
export function keyedByStage<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
