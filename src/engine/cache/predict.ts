import picomatch from 'picomatch';
import { isDenied } from '../../workspace/confine.js';
import { createDenyMatcher } from '../../workspace/matcher.js';
import type { JsonValue, Pipeline, Scope, StageNode } from '../../config/pipeline.js';
import { children, parseTemplate, referencedStages, renderValue, type Expr, type Value } from '../../expr/index.js';
import { ownChanges } from '../patches/command-writes.js';
import { pendingChanges, readLatest, StageCache, workspaceFiles, type CacheEntry } from './cache.js';
import { budgetContext, renderPipelineEnv } from '../contexts.js';
import { hashGlobs, type FileHash, type FingerprintParts } from './fingerprint.js';
import { explainMiss } from '../explain.js';
import { isBinary, MAX_KEPT_FILE_BYTES, takeSnapshot, unifiedDiff, type SnapshotEntry } from '../../workspace/snapshot.js';
import { cacheableKind, keyedByStage, mayWrite, needToken, stageFingerprint, usesMcp } from './stage-fingerprint.js';
import { scenarioGlobs } from '../models/stage-tree.js';

/**
 * What `apply` would do with each stage, worked out without running anything or calling a
 * model (`factory plan`, and the watch screen before a rerun): `cached` (its fingerprint has a
 * usable result), `will run` (and why: which file or upstream changed, no inputs declared, no
 * earlier result), or `unknown` when the fingerprint depends on values only the run knows (an
 * expression reading outputs of a stage that has to run, `run.id`, the budget spent).
 */
export type PredictedStatus = 'cached' | 'will run' | 'unknown';

export interface Prediction {
  path: string;
  status: PredictedStatus;
  reason: string;
  fingerprint?: string;
}

interface Known {
  status: PredictedStatus;
  /** Whether the stage is cached when it runs at all (an always-running command is not). */
  cacheable: boolean;
  fingerprint?: string;
  /** What it gives its dependants' fingerprints, assuming it succeeds; undefined when only the run knows. */
  token?: string;
  /** Outputs as the run will see them: a cached result's; undefined when only the run knows. */
  outputs?: Record<string, JsonValue>;
  entry?: CacheEntry;
}

interface ScopeView {
  pipeline: Pipeline;
  scope: Scope;
  contexts: Record<string, Value>;
  /** The pipeline's env rendered; undefined when it reads run-time values. */
  env: Record<string, string> | undefined;
  /** Stages of the enclosing scopes (none for a template: it sees only its own). */
  outer: Map<string, Known>;
}

class Predictor {
  readonly out = new Map<string, Prediction>();
  readonly cache: StageCache;
  readonly latest: Record<string, string>;
  /** Predicted-cached writers, in order, whose changes the review's diff shows. */
  readonly cachedChanges: CacheEntry[] = [];
  /** Writers that run (or may) before a review: their changes cannot be known. */
  readonly uncertainWriters: string[] = [];
  /** Files as the cached stages will leave them (their changes re-applied), by path: hash, or null when deleted. */
  readonly virtual = new Map<string, string | null>();

  constructor(
    readonly run: Pipeline,
    readonly noCache: boolean,
  ) {
    this.cache = new StageCache(run.dir);
    this.latest = readLatest(run.dir);
  }

  scope(view: ScopeView): Map<string, Known> {
    const known = new Map<string, Known>(view.outer);
    for (const node of view.scope.stages) {
      const k = this.stage(view, node, known);
      known.set(node.id, k);
    }
    return known;
  }

  private set(node: StageNode, status: PredictedStatus, reason: string, fingerprint?: string): void {
    this.out.set(node.path, { path: node.path, status, reason, ...(fingerprint ? { fingerprint } : {}) });
  }

  private stage(view: ScopeView, node: StageNode, known: Map<string, Known>): Known {
    if (node.kind === 'pipeline' && node.template) return this.templateStage(node, known);
    if (node.kind === 'approve') {
      this.set(node, 'will run', 'asks every time');
      return { status: 'will run', cacheable: false, token: needToken({ fingerprint: null, status: 'succeeded' }) };
    }
    const cacheable = cacheableKind(node);
    const computed = this.fingerprintOf(view, node, known);
    if (!cacheable) {
      this.set(node, 'will run', node.kind === 'command' || node.kind === 'scenario-validate' ? 'no inputs declared' : usesMcp(node) ? 'a stage with MCP tools is never cached' : `${node.kind} stages are never cached`, computed.fingerprint);
      if (mayWrite(node)) this.uncertainWriters.push(node.path);
      return { status: 'will run', cacheable: false, ...(computed.fingerprint ? { fingerprint: computed.fingerprint, token: needToken({ fingerprint: computed.fingerprint, status: 'succeeded' }) } : {}) };
    }
    if (this.noCache) {
      this.set(node, 'will run', '--no-cache');
      if (writes(node)) this.uncertainWriters.push(node.path);
      return { status: 'will run', cacheable };
    }
    if (!computed.ok) {
      this.set(node, computed.status, computed.reason);
      if (writes(node)) this.uncertainWriters.push(node.path);
      return { status: computed.status, cacheable };
    }
    const fp = computed.fingerprint!;
    const entry = this.cache.get(fp);
    if (entry) {
      const pending = pendingChanges(ownChanges(node, entry.changes, computed.parts), workspaceFiles(this.run.dir));
      if (pending.ok) {
        this.set(node, 'cached', `result of run ${entry.run}`, fp);
        for (const c of pending.todo) this.virtual.set(c.path, c.after?.hash ?? null);
        if (entry.changes.length) this.cachedChanges.push(entry);
        return { status: 'cached', cacheable, fingerprint: fp, token: needToken({ fingerprint: fp, status: 'succeeded' }), outputs: entry.outputs, entry };
      }
      this.set(node, 'will run', pending.message, fp);
    } else {
      this.set(node, 'will run', this.whyMiss(node, computed.parts!), fp);
    }
    if (writes(node)) this.uncertainWriters.push(node.path);
    return { status: 'will run', cacheable, fingerprint: fp };
  }

  /** Why there is no result for this fingerprint: what differs from the stage's last cached one. */
  private whyMiss(node: StageNode, parts: FingerprintParts): string {
    const last = this.latest[node.path];
    if (last === undefined) return 'no earlier result';
    const before = this.cache.get(last);
    if (!before) return 'no earlier result (its cache entry is gone or damaged)';
    return explainMiss(parts, before.parts as FingerprintParts | undefined, (id) => this.upstreamName(node, id));
  }

  private upstreamName(node: StageNode, id: string): string {
    const scopePath = node.path.includes('.') ? node.path.slice(0, node.path.lastIndexOf('.')) : '';
    return scopePath ? `${scopePath}.${id}` : id;
  }

  private fingerprintOf(view: ScopeView, node: StageNode, known: Map<string, Known>): { ok: boolean; status: PredictedStatus; reason: string; fingerprint?: string; parts?: FingerprintParts } {
    const needs = keyedByStage<string>();
    for (const id of node.needs) {
      const k = known.get(id);
      const name = this.upstreamName(node, id);
      if (!k) return { ok: false, status: 'unknown', reason: `depends on run-time values (needs ${name})` };
      if (k.status === 'will run' && k.cacheable) return { ok: false, status: 'will run', reason: `upstream ${name} will run` };
      if (k.token === undefined) return { ok: false, status: k.status === 'unknown' ? 'unknown' : 'will run', reason: k.status === 'unknown' ? `depends on run-time values (upstream ${name})` : `upstream ${name} will run` };
      // A stage that always runs is taken to succeed, as it did before.
      needs[id] = k.token;
    }
    const reads = readsOf(node);
    if (reads.contexts.has('run') || reads.contexts.has('budget')) return { ok: false, status: 'unknown', reason: `depends on run-time values (reads ${reads.contexts.has('run') ? 'run' : 'budget'})` };
    // Only the stages the definition reads go into its context (ids are lowercase, so a plain
    // lookup finds them): copying every known stage for every stage was quadratic.
    const stagesCtx: Record<string, Value> = {};
    const readIds = reads.allStages ? [...known.keys()] : reads.stages;
    for (const id of readIds) {
      const k = known.get(id);
      if (k && k.outputs === undefined) return { ok: false, status: 'unknown', reason: reads.allStages ? 'depends on run-time values (reads stages.*)' : `depends on run-time values (reads the outputs of ${this.upstreamName(node, id)})` };
      if (k) stagesCtx[id] = { status: 'succeeded', outputs: k.outputs as Value };
    }
    if (view.env === undefined && (reads.contexts.has('env') || ['command', 'scenario-validate', 'generate', 'loop'].includes(node.kind))) {
      return { ok: false, status: 'unknown', reason: 'depends on run-time values (the pipeline env reads run)' };
    }
    let diff: (() => string) | undefined;
    if (node.kind === 'review' && (node.def as { diff?: unknown }).diff !== false) {
      if (this.uncertainWriters.length > 0) return { ok: false, status: 'unknown', reason: `depends on run-time values (the diff since the run started: ${this.uncertainWriters[0]} runs before it)` };
      diff = () => this.predictedDiff();
    }
    const computed = stageFingerprint({
      node,
      owner: view.pipeline,
      workspace: this.run.dir,
      contexts: { ...view.contexts, stages: stagesCtx },
      pipelineEnv: view.env,
      needs,
      hashFiles: (globs) => this.hashFiles(globs),
      ...(diff ? { diff } : {}),
    });
    if (!computed.ok) return { ok: false, status: 'will run', reason: `its definition cannot be rendered yet: ${computed.message}` };
    return { ok: true, status: 'cached', reason: '', fingerprint: computed.fingerprint, parts: computed.parts };
  }

  /** Content hashes of the files the globs match once the cached stages before have re-applied their changes. */
  private hashFiles(globs: readonly string[]): FileHash[] {
    const onDisk = hashGlobs(globs, this.run.dir);
    if (this.virtual.size === 0 || globs.length === 0) return onDisk;
    const match = picomatch([...globs].map((g) => (g.startsWith('./') ? g.slice(2) : g)), { dot: true });
    const files = new Map(onDisk.map((f) => [f.path, f.hash]));
    for (const [p, hash] of this.virtual) {
      if (!match(p)) continue;
      if (hash === null) files.delete(p);
      else files.set(p, hash);
    }
    return [...files].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([p, hash]) => ({ path: p, hash }));
  }

  /** The diff a review would see: the workspace now, against it without the changes cached stages made. */
  private predictedDiff(): string {
    const ignore = this.run.config.watch?.ignore;
    const now = takeSnapshot(this.run.dir, ignore ? { ignore } : {});
    const before = new Map(now);
    const after = new Map(now);
    for (const entry of this.cachedChanges) {
      for (const c of entry.changes) {
        const current = now.get(c.path)?.hash ?? null;
        if (current !== c.before && current !== (c.after?.hash ?? null)) continue;
        if (c.before === null) before.delete(c.path);
        else before.set(c.path, { size: c.before_text === undefined ? 0 : Buffer.byteLength(c.before_text), mtimeMs: 0, hash: c.before, binary: c.before_binary === true, ...(c.before_text === undefined ? {} : { text: c.before_text }) });
        if (c.after === null) after.delete(c.path);
        else if (current !== c.after.hash) after.set(c.path, entryOf(Buffer.from(c.after.base64, 'base64'), c.after.hash));
      }
    }
    const holdout = createDenyMatcher(scenarioGlobs(this.run));
    return unifiedDiff(before, after, (rel) => isDenied(rel, holdout));
  }

  /** A pipeline stage is as its template's stages: cached when all of them are. */
  private templateStage(node: StageNode, known: Map<string, Known>): Known {
    const call = node.template!;
    const withText = JSON.stringify(call.with);
    const bodyView: ScopeView = {
      pipeline: call.pipeline,
      scope: call.pipeline.root,
      contexts: { params: call.pipeline.params, env: {}, budget: budgetContext(this.run) },
      env: staticEnv(call.pipeline),
      outer: new Map(),
    };
    if (bodyView.env) bodyView.contexts.env = bodyView.env;
    const dynamic = withText.includes('${{');
    const upstreamOpen = node.needs.some((id) => known.get(id)?.status !== 'cached');
    if (dynamic || upstreamOpen) {
      const reason = dynamic ? 'depends on run-time values (its `with`)' : `upstream ${node.needs.find((id) => known.get(id)?.status !== 'cached')} will run`;
      const visit = (scope: Scope) => {
        for (const s of scope.stages) {
          this.set(s, dynamic ? 'unknown' : 'will run', reason);
          if (writes(s)) this.uncertainWriters.push(s.path);
          if (s.body) visit(s.body);
        }
      };
      visit(call.pipeline.root);
      this.set(node, dynamic ? 'unknown' : 'will run', reason);
      return { status: dynamic ? 'unknown' : 'will run', cacheable: false };
    }
    const inner = this.scope(bodyView);
    const stages = [...inner.values()];
    const all = stages.every((k) => k.status === 'cached');
    if (!all) {
      const first = call.pipeline.root.stages.find((s) => inner.get(s.id)?.status !== 'cached');
      this.set(node, 'will run', `its stage ${first?.path ?? ''} will run`);
      return { status: 'will run', cacheable: false };
    }
    const contexts = { ...bodyView.contexts, stages: Object.fromEntries([...inner].map(([id, k]) => [id, { status: 'succeeded', outputs: k.outputs ?? {} }])) };
    const outputs: Record<string, JsonValue> = {};
    for (const [name, text] of Object.entries(call.outputs)) {
      const r = renderValue(text, { contexts });
      if (!r.ok) return { status: 'unknown', cacheable: false };
      outputs[name] = r.value;
    }
    this.set(node, 'cached', 'every stage of its template is cached');
    return { status: 'cached', cacheable: false, outputs, token: needToken({ fingerprint: null, status: 'succeeded' }) };
  }
}

function entryOf(data: Buffer, hash: string): SnapshotEntry {
  const binary = isBinary(data);
  const entry: SnapshotEntry = { size: data.length, mtimeMs: 0, hash, binary };
  if (!binary && data.length <= MAX_KEPT_FILE_BYTES) entry.text = data.toString('utf8');
  return entry;
}

/** Stages whose changes make a review's diff: those that may write, and loops (their bodies write). */
function writes(node: StageNode): boolean {
  return mayWrite(node) || node.kind === 'loop' || node.kind === 'pipeline';
}

function staticEnv(pipeline: Pipeline): Record<string, string> | undefined {
  const marker = '\u0000run';
  const env = renderPipelineEnv(pipeline, { id: marker, dir: marker });
  if (!env.ok) return undefined;
  return Object.values(env.value).some((v) => v.includes(marker)) ? undefined : env.value;
}

/** The contexts and stages a stage's definition reads (`if` aside), a loop's body included. */
export function readsOf(node: StageNode): { contexts: Set<string>; stages: Set<string>; allStages: boolean } {
  const contexts = new Set<string>();
  const stages = new Set<string>();
  let allStages = false;
  const visitText = (text: string) => {
    if (!text.includes('${{')) return;
    const parsed = parseTemplate(text);
    if (!parsed.ok) return;
    for (const part of parsed.parts) {
      if (part.kind !== 'expr') continue;
      const named = referencedStages(part.ast).stages;
      for (const s of named) stages.add(s);
      const stack: Expr[] = [part.ast];
      while (stack.length) {
        const n = stack.pop()!;
        if (n.kind === 'context') contexts.add(n.name.toLowerCase());
        stack.push(...children(n));
      }
      if (contexts.has('stages') && named.length === 0) allStages = true;
    }
  };
  const visit = (value: unknown, top: boolean) => {
    if (typeof value === 'string') return visitText(value);
    if (Array.isArray(value)) return value.forEach((v) => visit(v, false));
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (top && (k === 'if' || k === 'until' || k === 'description')) continue;
        visit(v, false);
      }
    }
  };
  visit(node.def, true);
  return { contexts, stages, allStages };
}

function viewOf(pipeline: Pipeline): ScopeView {
  const env = staticEnv(pipeline);
  const contexts: Record<string, Value> = { params: pipeline.params, env: env ?? {}, budget: budgetContext(pipeline) };
  return { pipeline, scope: pipeline.root, contexts, env, outer: new Map() };
}

/**
 * Each stage's prediction, by dotted path. Stages inside a loop's body go with their loop (they
 * are not cached one by one).
 */
export function predictPipeline(pipeline: Pipeline, options: { noCache?: boolean } = {}): Map<string, Prediction> {
  const predictor = new Predictor(pipeline, options.noCache === true);
  try {
    predictor.scope(viewOf(pipeline));
  } catch (err) {
    // A prediction never stops a plan or a run.
    for (const s of pipeline.root.stages) if (!predictor.out.has(s.path)) predictor.out.set(s.path, { path: s.path, status: 'unknown', reason: `could not be predicted: ${(err as Error).message}` });
  }
  return predictor.out;
}

/** Top-level ids whose result the cache is expected to give (their models need no preflight). */
export function predictedHits(pipeline: Pipeline): Set<string> {
  if (!hasModelStage(pipeline.root)) return new Set();
  const predicted = predictPipeline(pipeline);
  return new Set(pipeline.root.stages.filter((s) => predicted.get(s.path)?.status === 'cached').map((s) => s.id));
}

function hasModelStage(scope: Scope): boolean {
  return scope.stages.some((s) => ['plan', 'generate', 'review', 'scenario-validate', 'learn'].includes(s.kind) || (s.body ? hasModelStage(s.body) : false) || (s.template ? hasModelStage(s.template.pipeline.root) : false));
}
