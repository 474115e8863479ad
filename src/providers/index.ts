import path from 'node:path';
import type { Pricing, ProviderName, Providers } from '../config/generated/factory.js';
import { pricingTable } from '../config/pricing.js';
import { RecordingProvider, type CassetteRecorder } from './replay/record.js';
import { ReplayProvider } from './replay/replay.js';
import { lazyProvider } from './lazy.js';
import type { Provider, ProviderError } from './types.js';

export type { CallKey, CallOptions, CallResult, ModelRequest, ModelResponse, Provider, ProviderError, ProviderErrorKind } from './types.js';
export { usageOf } from './types.js';
export { withCacheBreakpoints } from './anthropic/cache-breakpoints.js';
export { BUILTIN_PRICING, costOf, nearestModel, priceOf, pricingTable, type ModelPrice, type PricingTable } from '../config/pricing.js';
export { CassetteRecorder, RecordingProvider } from './replay/record.js';
export { redactSecrets, redactJson } from './redact.js';
export { ReplayProvider } from './replay/replay.js';

export interface ProviderConfig {
  /** The directory of factory.yaml: a relative `providers.replay.cassette` resolves there. */
  dir: string;
  providers?: Providers | undefined;
  pricing?: Pricing | undefined;
  /** `--replay FILE`, absolute (the CLI resolves it against the cwd); wins over providers.replay.cassette. */
  cassette?: string | undefined;
  /** `--record FILE`: every provider made here records into it. */
  recorder?: CassetteRecorder | undefined;
  /** For file names in messages. */
  cwd?: string | undefined;
}

export type ProviderResult = { ok: true; provider: Provider } | { ok: false; error: ProviderError };

/** The provider a stage names (`anthropic`, `openai` or `replay`), configured from factory.yaml and the environment. */
export function createProvider(name: ProviderName, config: ProviderConfig, env: Readonly<Record<string, string | undefined>>): ProviderResult {
  const made = make(name, config, env);
  if (!made.ok || !config.recorder) return made;
  return { ok: true, provider: new RecordingProvider(made.provider, config.recorder) };
}

function make(name: ProviderName, config: ProviderConfig, env: Readonly<Record<string, string | undefined>>): ProviderResult {
  if (name === 'anthropic') {
    const load = async () => {
      const { AnthropicProvider, anthropicSettings } = await import('./anthropic/anthropic.js');
      return new AnthropicProvider(anthropicSettings(config.providers, pricingTable(config.pricing), env));
    };
    return { ok: true, provider: lazyProvider('anthropic', load, true) };
  }
  if (name === 'openai') {
    const load = async () => {
      const { OpenAIProvider, openaiSettings } = await import('./openai/openai.js');
      return new OpenAIProvider(openaiSettings(config.providers, pricingTable(config.pricing), env));
    };
    return { ok: true, provider: lazyProvider('openai', load, false) };
  }
  const named = config.cassette ?? config.providers?.replay?.cassette;
  if (named === undefined) {
    return {
      ok: false,
      error: { kind: 'config', message: 'the replay provider needs a cassette: set providers.replay.cassette in factory.yaml, or pass --replay FILE' },
    };
  }
  const cassette = path.resolve(config.dir, named);
  const settings = { cassette, strict: config.providers?.replay?.strict ?? false };
  return { ok: true, provider: new ReplayProvider(config.cwd === undefined ? settings : { ...settings, cwd: config.cwd }) };
}
