import type { Defaults, Effort, Profile, ProviderName, Thinking } from './generated/factory.js';
import type { Pipeline, StageNode } from './pipeline.js';

/**
 * Which provider, model and model settings a stage takes: one answer for `plan` (describe,
 * estimate) and `apply` (the engine's models), so that what `plan` shows is what `apply` does.
 *
 * A stage brought by a `uses:` template is owned by a chain of pipelines: the run's, then each
 * template it was called through. Its settings come from the stage itself, then from the
 * `defaults:` along that chain:
 * - the model and its settings (max_tokens, temperature, effort, thinking) from the stage, then
 *   its profile (`profile:`, else `defaults.profile`), then the innermost pipeline that sets
 *   them — the template knows what its prompts need — falling back to its callers';
 * - the provider from the outermost pipeline that sets it — where the calls go (key, endpoint,
 *   cassette) is the run's choice, configured by the run's `providers:`, as `--provider` is:
 *   a template cannot know whether its caller runs live or from a cassette, so a
 *   `defaults.provider: replay` in the caller keeps every template stage offline. A template
 *   that needs one provider whatever the caller says names it on the stage.
 */

export const DEFAULT_PROVIDER: ProviderName = 'anthropic';

/** The kinds that call a model themselves and take model settings and profiles. */
export const LLM_KINDS: ReadonlySet<string> = new Set(['plan', 'generate', 'review', 'learn']);

/** The model settings a stage, a profile and `defaults:` may each set. */
export interface ModelSettingKeys {
  model?: string;
  max_tokens?: number;
  temperature?: number;
  effort?: Effort;
  thinking?: Thinking;
  system?: string;
}



/** The pipelines that own a stage, outermost first: the run's, then each template called on the way (`ancestors`: the stages above it, outermost first). */
export function ownersOf(run: Pipeline, ancestors: readonly StageNode[]): Pipeline[] {
  const owners = [run];
  for (const a of ancestors) if (a.template) owners.push(a.template.pipeline);
  return owners;
}

function defaultsOf(p: Pipeline): Defaults {
  return p.config.defaults ?? {};
}

/** The innermost owner's `defaults.<key>` that is set, else its callers'. */
export function innermostDefault<K extends keyof Defaults>(owners: readonly Pipeline[], key: K): Defaults[K] | undefined {
  for (let i = owners.length - 1; i >= 0; i--) {
    const v = defaultsOf(owners[i]!)[key];
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The profile a stage takes (`profile:` on it, else the innermost `defaults.profile`), looked up
 * in the innermost pipeline that defines a profile of that name: a template's own profiles first.
 */
export function stageProfile(owners: readonly Pipeline[], node: StageNode): { name: string; settings: Profile } | undefined {
  if (!LLM_KINDS.has(node.kind)) return undefined;
  const name = (node.def as { profile?: string }).profile ?? innermostDefault(owners, 'profile');
  if (name === undefined) return undefined;
  for (let i = owners.length - 1; i >= 0; i--) {
    const profiles = (owners[i]!.config as { profiles?: Record<string, Profile> }).profiles;
    const settings = profiles?.[name];
    if (settings) return { name, settings };
  }
  return undefined;
}

/** A model setting of a stage: written on the stage, else its profile's, else the innermost `defaults`. */
export function stageSetting<K extends keyof ModelSettingKeys>(owners: readonly Pipeline[], node: StageNode, key: K): ModelSettingKeys[K] | undefined {
  const own = (node.def as ModelSettingKeys)[key];
  if (own !== undefined) return own;
  const fromProfile = stageProfile(owners, node)?.settings[key];
  if (fromProfile !== undefined) return fromProfile;
  if (key === 'system') return undefined;
  return innermostDefault(owners, key as Exclude<K, 'system'>);
}

/** The stage's `provider:`, else its profile's, else the outermost `defaults.provider`, else anthropic (flags are the caller's to apply first). */
export function stageProvider(owners: readonly Pipeline[], node: StageNode): ProviderName {
  const own = (node.def as { provider?: ProviderName }).provider ?? stageProfile(owners, node)?.settings.provider;
  if (own !== undefined) return own;
  for (const p of owners) {
    const v = defaultsOf(p).provider;
    if (v !== undefined) return v;
  }
  return DEFAULT_PROVIDER;
}

/** The stage's model (a scenario-validate's `judge_model`), else the innermost `defaults.model`. */
export function stageModel(owners: readonly Pipeline[], node: StageNode): string | undefined {
  const def = node.def as { model?: string; judge_model?: string };
  if (node.kind === 'scenario-validate') return def.judge_model ?? innermostDefault(owners, 'model');
  return stageSetting(owners, node, 'model');
}

/** A generate stage handed to an external coding agent (`agent:`): it calls no provider. */
export function isAgentStage(node: StageNode): boolean {
  return node.kind === 'generate' && (node.def as { agent?: unknown }).agent !== undefined;
}
