/**
 * Before any stage starts (docs/models-and-budgets.md): each model stage's provider and model, the
 * providers made and checked (key, endpoint, models, cassette), a price for every model under a
 * `cost_usd` budget. One message for every problem (exit 2).
 */
import type { ProviderName } from '../../config/generated/factory.js';
import { ownersOf, stageModel, stageProvider } from '../../config/stage-model.js';
import type { Pipeline, StageNode } from '../../config/pipeline.js';
import { nearestModel, priceOf, pricingTable, type PricingTable } from '../../config/pricing.js';
import type { CassetteRecorder } from '../../providers/replay/record.js';
import { type Provider } from '../../providers/types.js';
import { MODEL_KINDS, scenarioGlobs, walk } from './stage-tree.js';
import type { ModelFlags } from './services.js';
import { expandMatrix, fanoutOf, renderPerCombination, type MatrixValues } from '../../config/fanout.js';

interface ModelUse {
  path: string;
  provider: ProviderName;
  model: string | undefined;
}

/** Everything that runs model stages, checked before any stage starts. */
export class PreparedModels {
  constructor(
    readonly pipeline: Pipeline,
    readonly flags: ModelFlags,
    readonly pricing: PricingTable,
    readonly providers: Map<ProviderName, Provider>,
    readonly recorder: CassetteRecorder | undefined,
    readonly holdoutGlobs: string[],
    readonly env: Readonly<NodeJS.ProcessEnv>,
    readonly cwd: string,
  ) {}
}

export type Prepared = { ok: true; models: PreparedModels } | { ok: false; message: string };

export interface PrepareOptions {
  flags: ModelFlags;
  env: Readonly<NodeJS.ProcessEnv>;
  signal: AbortSignal;
  /** Top-level ids that will run; the others need no provider. */
  planned?: ReadonlySet<string>;
  /** Keep the calls already in the --record file (a resumed run). */
  keepRecorded?: boolean;
  /** Top-level ids the cache is expected to answer: their models are not preflighted (a miss calls without the check). */
  skipPreflight?: ReadonlySet<string>;
  cwd?: string;
}

/** The provider a stage uses: --replay, then --provider, then the stage's, then defaults' (config/stage-model.ts), then anthropic. */
export function providerOf(owners: readonly Pipeline[], node: StageNode, flags: ModelFlags): ProviderName {
  if (flags.replay !== undefined) return 'replay';
  if (flags.provider !== undefined) return flags.provider;
  return stageProvider(owners, node);
}

export function modelOf(pipeline: Pipeline | readonly Pipeline[], node: StageNode): string | undefined {
  return stageModel(Array.isArray(pipeline) ? pipeline : [pipeline as Pipeline], node);
}

/**
 * Before any stage: providers made and checked (key, endpoint, models; cassette), a model for
 * every model stage, and a price for every model under a `cost_usd` budget. Problems come back
 * as one message (exit 2).
 */
export async function prepareModels(pipeline: Pipeline, options: PrepareOptions): Promise<Prepared> {
  const { flags, env } = options;
  const pricing = pricingTable(pipeline.config.pricing);
  const uses: ModelUse[] = [];
  const problems: string[] = [];
  const runCost = (pipeline.config.budget as { cost_usd?: unknown } | undefined)?.cost_usd;
  walk(pipeline.root, (node, ancestors) => {
    const top = ancestors[0] ?? node;
    if (options.planned && !options.planned.has(top.id)) return;
    const def = node.def as { agent?: unknown; judge_model?: string; budget?: { cost_usd?: unknown } };
    const isModel = MODEL_KINDS.has(node.kind) && !(node.kind === 'generate' && def.agent !== undefined);
    const isJudge = node.kind === 'scenario-validate' && def.judge_model !== undefined;
    if (!isModel && !isJudge) return;
    const owners = ownersOf(pipeline, ancestors);
    const model = modelOf(owners, node);
    if (model === undefined) {
      problems.push(`stage "${node.path}" (${node.kind}) names no model: set \`model:\` on it or \`defaults.model\``);
      return;
    }
    // A model or provider chosen by a matrix is checked for each of its values; one known only at run time (`each.item`) when it is used.
    const provider = providerOf(owners, node, flags);
    const pairs = model.includes('${{') || provider.includes('${{') ? matrixPairs(provider, model, [...ancestors, node], pipeline) : [{ provider, model }];
    for (const { provider: named, model: one } of pairs) {
      if (!PROVIDERS.has(named)) {
        problems.push(`stage "${node.path}" names the provider "${named}" through its matrix: providers are ${[...PROVIDERS].join(', ')}`);
        continue;
      }
      if (!options.skipPreflight?.has(top.id)) uses.push({ path: node.path, provider: named as ProviderName, model: one });
      const costScope = [node, ...[...ancestors].reverse()].find((n) => typeof (n.def as { budget?: { cost_usd?: unknown } }).budget?.cost_usd === 'number');
      const scope = costScope ? `stage "${costScope.path}"` : typeof runCost === 'number' ? 'the run' : undefined;
      if (scope && !priceOf(one, pricing)) {
        const near = nearestModel(one, pricing);
        problems.push(
          `stage "${node.path}" uses the model "${one}", which the pricing table does not price, under the cost_usd budget of ${scope}: ` +
            `add \`pricing: { ${one}: { input: …, output: … } }\` (USD per million tokens) to ${pipeline.file}${near ? ` (or did you mean "${near}"?)` : ''}`,
        );
      }
    }
  });
  if (problems.length > 0) return { ok: false, message: problems.join('\n') };

  const holdoutGlobs = scenarioGlobs(pipeline);
  const providers = new Map<ProviderName, Provider>();
  let recorder: CassetteRecorder | undefined;
  const cwd = options.cwd ?? process.cwd();
  if (uses.length > 0 || flags.record !== undefined) {
    const lib = await import('../../providers/index.js');
    if (flags.record !== undefined) recorder = new lib.CassetteRecorder(flags.record, { env, cwd, keep: options.keepRecorded === true });
    const byProvider = new Map<ProviderName, Set<string>>();
    const stagesOf = new Map<ProviderName, string[]>();
    for (const u of uses) {
      const set = byProvider.get(u.provider) ?? new Set<string>();
      if (u.model !== undefined) set.add(u.model);
      byProvider.set(u.provider, set);
      stagesOf.set(u.provider, [...(stagesOf.get(u.provider) ?? []), u.path]);
    }
    for (const [name, models] of byProvider) {
      const made = lib.createProvider(
        name,
        { dir: pipeline.dir, providers: pipeline.config.providers, pricing: pipeline.config.pricing, cassette: flags.replay, recorder, cwd },
        env,
      );
      if (!made.ok) {
        problems.push(made.error.message);
        continue;
      }
      const found = await made.provider.preflight([...models], options.signal, stagesOf.get(name) ?? []);
      for (const p of found) problems.push(p.message);
      providers.set(name, made.provider);
    }
  }
  if (problems.length > 0) return { ok: false, message: [...new Set(problems)].join('\n') };
  return { ok: true, models: new PreparedModels(pipeline, flags, pricing, providers, recorder, holdoutGlobs, env, cwd) };
}

const PROVIDERS: ReadonlySet<string> = new Set<ProviderName>(['anthropic', 'openai', 'replay']);

/**
 * The providers and models a matrix gives a stage whose `provider` or `model` reads `matrix`
 * (section 13): one pair per combination of it and its ancestors.
 */
function matrixPairs(provider: string, model: string, chain: readonly StageNode[], pipeline: Pipeline): { provider: string; model: string }[] {
  let combos: MatrixValues[] = [{}];
  for (const n of chain) {
    const spec = fanoutOf(n.def);
    if (!spec?.matrix) continue;
    const m = expandMatrix(spec.matrix, pipeline.params);
    if (m.ok) combos = combos.flatMap((o) => m.combos.map((c) => ({ ...o, ...c })));
  }
  const providers = renderPerCombination(provider, combos, pipeline.params);
  const models = renderPerCombination(model, combos, pipeline.params);
  const out = new Map<string, { provider: string; model: string }>();
  combos.forEach((_, i) => {
    const [p, m] = [providers[i], models[i]];
    if (p !== undefined && m !== undefined) out.set(`${p} ${m}`, { provider: p, model: m });
  });
  return [...out.values()];
}
