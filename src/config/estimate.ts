import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { renderValue, type Value } from '../expr/index.js';
import { priceOf, pricingTable, ratesFor, type PricingTable } from './pricing.js';
import { expandGlobs } from './files.js';
import type { Pipeline, Scope, StageNode } from './pipeline.js';
import { stageModel, stageSetting } from './stage-model.js';
import { expandMatrix, fanoutOf, type MatrixValues } from './fanout.js';
import { LEARNINGS_TOKEN_CAP } from './learnings.js';

/**
 * The worst case of each model stage for `factory plan` (docs/running.md), computed without
 * calling a model: the prompt estimated at 4 characters a token (system, instruction or
 * prompt_file, rubric, the context files as they are now, tool definitions) plus `max_tokens`
 * of output, for each call the stage may make — one for a plan, two for a review (its answer
 * may be sent back once), `max_turns` for a generate — times the `max_iterations` of every
 * enclosing loop, priced at the model's input and output rates. A generate handed to an
 * external agent is not estimated. Text that depends on other stages' outputs is unknown
 * here and counted as empty.
 */
export interface StageEstimate {
  path: string;
  model: string | undefined;
  calls: number;
  /** Estimated prompt tokens of one call. */
  promptTokens: number;
  maxTokens: number;
  /** Product of the enclosing loops' max_iterations. */
  iterations: number;
  /** Fan-out instances (section 13): the product of the matrix sizes (or `max_items`) of the stage and its enclosing stages. */
  instances: number;
  tokens: number;
  /** Undefined when the model has no price. */
  cost_usd: number | undefined;
}

export interface PipelineEstimate {
  stages: StageEstimate[];
  tokens: number;
  cost_usd: number;
  /** Models without a price (their cost is left out of the total). */
  unpriced: string[];
}

const DEFAULT_MAX_TOKENS = 8192;
const DEFAULT_MAX_TURNS = 40;
const CHARS_PER_TOKEN = 4;
/** The built-in tools' definitions, roughly, in characters. */
const TOOL_DEFINITION_CHARS = 2400;
const REVIEW_OVERHEAD_CHARS = 1200;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export function estimatePipeline(pipeline: Pipeline): PipelineEstimate {
  const pricing = pricingTable(pipeline.config.pricing);
  const stages: StageEstimate[] = [];
  const visit = (scope: Scope, iterations: number, outer: Fan, owners: readonly Pipeline[]) => {
    for (const node of scope.stages) {
      const fan = fanOf(node, outer, owners.at(-1) ?? pipeline);
      const e = estimateStage(pipeline, owners, node, iterations, fan, pricing);
      if (e) stages.push(e);
      if (node.body) {
        const max = (node.def as { max_iterations?: unknown }).max_iterations;
        visit(node.body, iterations * (node.kind === 'loop' && typeof max === 'number' ? max : 1), fan, node.template ? [...owners, node.template.pipeline] : owners);
      }
    }
  };
  visit(pipeline.root, 1, { count: 1, combos: [{}] }, [pipeline]);
  const unpriced = [...new Set(stages.filter((s) => s.cost_usd === undefined && s.model !== undefined).map((s) => s.model!))];
  return {
    stages,
    tokens: stages.reduce((n, s) => n + s.tokens, 0),
    cost_usd: stages.reduce((n, s) => n + (s.cost_usd ?? 0), 0),
    unpriced,
  };
}

/** How many instances a stage runs as, and the matrix values each sees (for a model written as `${{ matrix.model }}`). */
interface Fan {
  count: number;
  combos: MatrixValues[];
}

function fanOf(node: StageNode, outer: Fan, owner: Pipeline): Fan {
  const spec = fanoutOf(node.def);
  if (!spec) return outer;
  if (spec.matrix) {
    const m = expandMatrix(spec.matrix, owner.params);
    const own = m.ok ? m.combos : [{}];
    return { count: outer.count * own.length, combos: outer.combos.flatMap((o) => own.map((c) => ({ ...o, ...c }))) };
  }
  return { count: outer.count * (spec.maxItems ?? 1), combos: outer.combos };
}

/** `owners`: the run's pipeline and the templates the stage was called through, whose `defaults:` it takes (stage-model.ts). */
function estimateStage(pipeline: Pipeline, owners: readonly Pipeline[], node: StageNode, iterations: number, fan: Fan, pricing: PricingTable): StageEstimate | undefined {
  if (node.kind !== 'plan' && node.kind !== 'generate' && node.kind !== 'review' && node.kind !== 'learn') return undefined;
  const def = node.def as {
    model?: string;
    max_tokens?: number;
    system?: string;
    prompt?: string;
    prompt_file?: string;
    rubric?: string;
    context?: string[];
    max_turns?: number;
    agent?: unknown;
    learnings?: unknown;
  };
  if (node.kind === 'generate' && def.agent !== undefined) return undefined;
  const written = stageModel(owners, node);
  // A model chosen by the matrix: each instance priced at its own model (section 13).
  const models = written?.includes('${{') ? fan.combos.map((matrix) => modelFor(written, owners, pipeline, matrix)) : [written];
  const model = [...new Set(models)].join(' | ');
  // Thinking tokens are output tokens, and max_tokens bounds them with the answer: the worst case holds.
  const maxTokens = stageSetting(owners, node, 'max_tokens') ?? DEFAULT_MAX_TOKENS;
  const params = (owners.at(-1) ?? pipeline).params as Value;
  const literal = (text: string | undefined) => {
    if (text === undefined) return '';
    const r = renderValue(text, { contexts: { params } });
    return r.ok && typeof r.value === 'string' ? r.value : text.replace(/\$\{\{[^}]*\}\}/g, '');
  };
  let chars = literal(def.system ?? stageSetting(owners, node, 'system')).length + literal(def.prompt).length + literal(def.rubric).length;
  if (def.prompt_file !== undefined) {
    const dir = (node.source as { dir?: string }).dir ?? pipeline.dir;
    chars += fileSize(path.resolve(dir, literal(def.prompt_file)));
  }
  const globs = (def.context ?? []).map(literal).filter((g) => g !== '');
  for (const rel of expandGlobs(globs, pipeline.dir)) chars += fileSize(path.join(pipeline.dir, rel)) + rel.length + 20;
  if (node.kind === 'generate') chars += TOOL_DEFINITION_CHARS;
  if (node.kind === 'review') chars += REVIEW_OVERHEAD_CHARS;
  // Learnings the stage reads: at most the cap, whatever the folder holds when it runs.
  if (def.learnings !== undefined && def.learnings !== false) chars += LEARNINGS_TOKEN_CAP * CHARS_PER_TOKEN;
  const promptTokens = Math.ceil(chars / CHARS_PER_TOKEN);
  // A review and a learn stage may send one correction after a malformed answer.
  const calls = node.kind === 'plan' ? 1 : node.kind === 'review' || node.kind === 'learn' ? 2 : (def.max_turns ?? DEFAULT_MAX_TURNS);
  const n = calls * iterations;
  const each = fan.count / Math.max(1, models.length);
  let cost: number | undefined = 0;
  for (const m of models) {
    const price = m === undefined ? undefined : priceOf(m, pricing);
    const rates = price ? ratesFor(price, promptTokens) : undefined;
    cost = rates && cost !== undefined ? cost + (each * n * (promptTokens * rates.input + maxTokens * rates.output)) / 1_000_000 : undefined;
  }
  return {
    path: node.path,
    model: written === undefined ? undefined : model,
    calls,
    promptTokens,
    maxTokens,
    iterations,
    instances: fan.count,
    tokens: fan.count * n * (promptTokens + maxTokens),
    cost_usd: cost,
  };
}

function modelFor(written: string, owners: readonly Pipeline[], pipeline: Pipeline, matrix: MatrixValues): string | undefined {
  const params = (owners.at(-1) ?? pipeline).params as Value;
  const r = renderValue(written, { contexts: { params, matrix: matrix } });
  return r.ok && typeof r.value === 'string' ? r.value : undefined;
}

function fileSize(abs: string): number {
  try {
    const st = statSync(abs);
    if (!st.isFile()) return 0;
    if (st.size > MAX_FILE_BYTES) return st.size;
    return readFileSync(abs, 'utf8').length;
  } catch {
    return 0;
  }
}
