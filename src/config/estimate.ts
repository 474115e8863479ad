import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { renderValue, type Value } from '../expr/index.js';
import { priceOf, pricingTable, ratesFor, type PricingTable } from './pricing.js';
import { expandGlobs } from './files.js';
import type { Pipeline, Scope, StageNode } from './pipeline.js';
import { stageModel, stageSetting } from './stage-model.js';
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
  const visit = (scope: Scope, iterations: number, owners: readonly Pipeline[]) => {
    for (const node of scope.stages) {
      const e = estimateStage(pipeline, owners, node, iterations, pricing);
      if (e) stages.push(e);
      if (node.body) {
        const max = (node.def as { max_iterations?: unknown }).max_iterations;
        visit(node.body, iterations * (node.kind === 'loop' && typeof max === 'number' ? max : 1), node.template ? [...owners, node.template.pipeline] : owners);
      }
    }
  };
  visit(pipeline.root, 1, [pipeline]);
  const unpriced = [...new Set(stages.filter((s) => s.cost_usd === undefined && s.model !== undefined).map((s) => s.model!))];
  return {
    stages,
    tokens: stages.reduce((n, s) => n + s.tokens, 0),
    cost_usd: stages.reduce((n, s) => n + (s.cost_usd ?? 0), 0),
    unpriced,
  };
}

/** `owners`: the run's pipeline and the templates the stage was called through, whose `defaults:` it takes (stage-model.ts). */
function estimateStage(pipeline: Pipeline, owners: readonly Pipeline[], node: StageNode, iterations: number, pricing: PricingTable): StageEstimate | undefined {
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
  const model = stageModel(owners, node);
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
  const price = model === undefined ? undefined : priceOf(model, pricing);
  const rates = price ? ratesFor(price, promptTokens) : undefined;
  return {
    path: node.path,
    model,
    calls,
    promptTokens,
    maxTokens,
    iterations,
    tokens: n * (promptTokens + maxTokens),
    cost_usd: rates ? (n * (promptTokens * rates.input + maxTokens * rates.output)) / 1_000_000 : undefined,
  };
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
