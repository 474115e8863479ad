import type { Pricing } from './generated/factory.js';
import { nearest } from './suggest.js';
import { inputTokens } from '../base/usage.js';
import type { Usage } from '../base/usage.js';

/** USD per million tokens. */
export interface Rates {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

/**
 * A model's prices. Some models bill a whole request at higher rates when its prompt (input +
 * cache reads + cache writes) is longer than a threshold (Claude Haiku 5.5: over 100,000 tokens).
 */
export interface ModelPrice extends Rates {
  long_prompt?: Rates & { above_tokens: number };
  /** USD per 1,000 uses of the provider's web tools (default: WEB_TOOL_PRICES). */
  web_search?: number;
  web_fetch?: number;
}

/** USD per 1,000 uses, as published: $10 per 1,000 searches; a fetch costs only the tokens it adds. */
export const WEB_TOOL_PRICES = { web_search: 10, web_fetch: 0 } as const;

/** Server tool uses of one answer, as the Messages API reports them in `usage.server_tool_use`. */
export interface ServerToolUse {
  web_search_requests?: number | null;
  web_fetch_requests?: number | null;
}

/** Model name → prices, the built-in table with the pipeline's `pricing:` applied over it. */
export type PricingTable = ReadonlyMap<string, ModelPrice>;

type GivenRates = { input: number; output: number; cache_write?: number | undefined; cache_read?: number | undefined };

/** Cache writes cost 1.25× input and cache reads 0.1× input unless a price says otherwise. */
export function withCacheDefaults(rates: GivenRates): Rates {
  return {
    input: rates.input,
    output: rates.output,
    cache_write: rates.cache_write ?? rates.input * 1.25,
    cache_read: rates.cache_read ?? rates.input * 0.1,
  };
}

const rates = (input: number, output: number, cache_write?: number, cache_read?: number): ModelPrice =>
  withCacheDefaults({ input, output, cache_write, cache_read });

/** OpenAI bills no cache writes (its prompt cache is automatic): a write is charged as plain input. */
const openai = (input: number, output: number, cache_read = input): ModelPrice => rates(input, output, input, cache_read);
/** Prompts over 270,000 tokens are billed at 2× input and 1.5× output, for the whole request (GPT-5.4 and 5.5). */
const openaiLong = (input: number, output: number, cache_read: number): ModelPrice => ({
  ...openai(input, output, cache_read),
  long_prompt: { above_tokens: 270_000, ...openai(input * 2, output * 1.5, cache_read * 2) },
});

/**
 * OpenAI's published prices (platform.openai.com/docs/pricing), cached input included; the `pro`
 * models have no cached-input price (a cache read costs full input). Dated ids
 * (`gpt-4.1-2025-04-14`) fall back to these (priceOf). Models whose price was not published
 * (the gpt-5.6 family the SDK lists) are left out: give them with `pricing:`.
 */
const OPENAI: Record<string, ModelPrice> = {
  'gpt-5.5': openaiLong(5, 30, 0.5),
  'gpt-5.5-pro': openai(30, 180),
  'gpt-5.4': openaiLong(2.5, 15, 0.25),
  'gpt-5.4-mini': openai(0.75, 4.5, 0.075),
  'gpt-5.4-nano': openai(0.2, 1.25, 0.02),
  'gpt-5.4-pro': openai(30, 180),
  'gpt-5.2': openai(1.75, 14, 0.175),
  'gpt-5.2-pro': openai(21, 168),
  'gpt-5.1': openai(1.25, 10, 0.125),
  'gpt-5.1-codex': openai(1.25, 10, 0.125),
  'gpt-5': openai(1.25, 10, 0.125),
  'gpt-5-mini': openai(0.25, 2, 0.025),
  'gpt-5-nano': openai(0.05, 0.4, 0.005),
  'gpt-5-pro': openai(15, 120),
  'gpt-4.1': openai(2, 8, 0.5),
  'gpt-4.1-mini': openai(0.4, 1.6, 0.1),
  'gpt-4.1-nano': openai(0.1, 0.4, 0.025),
  'gpt-4o': openai(2.5, 10, 1.25),
  'gpt-4o-mini': openai(0.15, 0.6, 0.075),
  o3: openai(2, 8, 0.5),
  'o3-mini': openai(1.1, 4.4, 0.55),
  'o4-mini': openai(1.1, 4.4, 0.275),
  o1: openai(15, 60, 7.5),
};

/**
 * Prices published on platform.claude.com (model overview pages and the pricing page), for the
 * model ids the SDK names. Models whose price was not published there (claude-fable-5-2,
 * claude-mythos-5-2, claude-mythos-preview) are left out rather than guessed: give them with
 * `pricing:` in factory.yaml.
 */
const BUILTIN: Record<string, ModelPrice> = {
  // Opus 5.5 reads its cache at 0.05× input.
  'claude-opus-5-5': rates(4, 20, 5, 0.2),
  // Sonnet 5.5 cache reads were cut from $0.20 to $0.10 on 2026-10-07.
  'claude-sonnet-5-5': rates(2, 10, 2.5, 0.1),
  'claude-haiku-5-5': { ...rates(0.1, 0.5, 0.125, 0.01), long_prompt: { above_tokens: 100_000, ...rates(0.5, 2.5, 0.625) } },
  'claude-fable-5-1': rates(10, 50, 12.5, 0.25),
  'claude-mythos-5-1': rates(10, 50, 12.5, 0.25),
  'claude-fable-5': rates(10, 50, 12.5, 1),
  'claude-mythos-5': rates(10, 50, 12.5, 1),
  'claude-opus-5': rates(5, 25),
  'claude-sonnet-5': rates(2, 10, 2.5, 0.2),
  'claude-opus-4-8': rates(5, 25),
  'claude-opus-4-7': rates(5, 25),
  'claude-opus-4-6': rates(5, 25),
  'claude-opus-4-5': rates(5, 25),
  'claude-opus-4-5-20251101': rates(5, 25),
  'claude-sonnet-4-6': rates(3, 15),
  'claude-sonnet-4-5': rates(3, 15),
  'claude-sonnet-4-5-20250929': rates(3, 15),
  'claude-haiku-4-5': rates(1, 5),
  'claude-haiku-4-5-20251001': rates(1, 5),
  ...OPENAI,
};

export const BUILTIN_PRICING: PricingTable = new Map(Object.entries(BUILTIN));

/** The built-in table with `pricing:` from factory.yaml over it: an entry replaces the model's prices. */
export function pricingTable(overrides: Pricing | undefined = undefined): PricingTable {
  const table = new Map(BUILTIN_PRICING);
  for (const [model, price] of Object.entries(overrides ?? {})) {
    if (price) table.set(model, { ...withCacheDefaults(price), ...(price.web_search !== undefined ? { web_search: price.web_search } : {}), ...(price.web_fetch !== undefined ? { web_fetch: price.web_fetch } : {}) });
  }
  return table;
}

/** A model's prices; a dated id (`claude-x-20261001`, `gpt-x-2026-03-17`) falls back to its undated alias. */
export function priceOf(model: string, table: PricingTable): ModelPrice | undefined {
  return table.get(model) ?? table.get(model.replace(/-(\d{8}|\d{4}-\d{2}-\d{2})$/, ''));
}

/** The rates that apply to a request whose prompt (input + cache tokens) has this many tokens. */
export function ratesFor(price: ModelPrice, promptTokens: number): Rates {
  return price.long_prompt && promptTokens > price.long_prompt.above_tokens ? price.long_prompt : price;
}

/** USD for one call's usage, cache reads and writes at their own prices; undefined when the model has no price. */
export function costOf(model: string, usage: Usage, table: PricingTable): number | undefined {
  const price = priceOf(model, table);
  if (!price) return undefined;
  const prompt = inputTokens(usage);
  const r = ratesFor(price, prompt);
  return (
    (usage.input_tokens * r.input +
      usage.output_tokens * r.output +
      usage.cache_creation_input_tokens * r.cache_write +
      usage.cache_read_input_tokens * r.cache_read) /
    1_000_000
  );
}

/** USD for the provider's web searches and fetches of one answer, priced by the model's entry (or the published prices). */
export function serverToolCost(model: string, uses: ServerToolUse | null | undefined, table: PricingTable): number {
  if (!uses) return 0;
  const price = priceOf(model, table);
  const search = price?.web_search ?? WEB_TOOL_PRICES.web_search;
  const fetch = price?.web_fetch ?? WEB_TOOL_PRICES.web_fetch;
  return ((uses.web_search_requests ?? 0) * search + (uses.web_fetch_requests ?? 0) * fetch) / 1000;
}

/** The priced model nearest to a misspelt name, for "did you mean". */
export function nearestModel(name: string, table: PricingTable): string | undefined {
  return nearest(name, table.keys());
}
