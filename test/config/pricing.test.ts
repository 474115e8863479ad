import { describe, expect, test } from 'vitest';
import { BUILTIN_PRICING, costOf, nearestModel, priceOf, pricingTable } from '../../src/config/pricing.js';
import type { Usage } from '../../src/base/usage.js';

const usage = (u: Partial<Usage>): Usage => ({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...u });

describe('pricing', () => {
  test('the SPEC figures: sonnet 5.5 at $2/$10 and opus 5.5 at $4/$20 per million', () => {
    expect(priceOf('claude-sonnet-5-5', BUILTIN_PRICING)).toMatchObject({ input: 2, output: 10 });
    expect(priceOf('claude-opus-5-5', BUILTIN_PRICING)).toMatchObject({ input: 4, output: 20 });
    expect(costOf('claude-sonnet-5-5', usage({ input_tokens: 1_000_000, output_tokens: 1_000_000 }), BUILTIN_PRICING)).toBeCloseTo(12, 10);
  });

  test('cache reads and writes at their own prices', () => {
    // opus 4.8: input 5, output 25, cache write 6.25 (1.25×), cache read 0.5 (0.1×)
    const u = usage({ input_tokens: 1000, output_tokens: 2000, cache_creation_input_tokens: 10_000, cache_read_input_tokens: 100_000 });
    const expected = (1000 * 5 + 2000 * 25 + 10_000 * 6.25 + 100_000 * 0.5) / 1e6;
    expect(costOf('claude-opus-4-8', u, BUILTIN_PRICING)).toBeCloseTo(expected, 12);
  });

  test('claude-haiku-5-5 bills a prompt over 100k tokens at the higher band', () => {
    const short = costOf('claude-haiku-5-5', usage({ input_tokens: 100_000, output_tokens: 1000 }), BUILTIN_PRICING)!;
    expect(short).toBeCloseTo((100_000 * 0.1 + 1000 * 0.5) / 1e6, 12);
    const long = costOf('claude-haiku-5-5', usage({ input_tokens: 50_000, cache_read_input_tokens: 60_000, output_tokens: 1000 }), BUILTIN_PRICING)!;
    expect(long).toBeCloseTo((50_000 * 0.5 + 60_000 * 0.05 + 1000 * 2.5) / 1e6, 12);
  });

  test('pricing: overrides and extends the table; cache prices default to 1.25× and 0.1× input', () => {
    const table = pricingTable({ 'my-model': { input: 8, output: 16 }, 'claude-sonnet-5-5': { input: 3, output: 15, cache_read: 0.3 } });
    expect(priceOf('my-model', table)).toEqual({ input: 8, output: 16, cache_write: 10, cache_read: 0.8 });
    expect(priceOf('claude-sonnet-5-5', table)).toEqual({ input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 });
    expect(priceOf('claude-sonnet-5-5', BUILTIN_PRICING)).toMatchObject({ input: 2 }); // the built-in table is untouched
  });

  test('an unpriced model has no cost; a dated id falls back to its alias', () => {
    expect(costOf('gpt-4', usage({ input_tokens: 10 }), BUILTIN_PRICING)).toBeUndefined();
    expect(priceOf('claude-opus-5-5-20261101', BUILTIN_PRICING)).toMatchObject({ input: 4 });
  });

  test('every built-in price is complete and positive', () => {
    for (const [model, p] of BUILTIN_PRICING) {
      for (const v of [p.input, p.output, p.cache_write, p.cache_read]) expect(v, model).toBeGreaterThan(0);
    }
  });

  test('nearestModel suggests a priced name for a typo, nothing for something unrelated', () => {
    expect(nearestModel('claude-sonet-5-5', BUILTIN_PRICING)).toBe('claude-sonnet-5-5');
    expect(nearestModel('claude-opus-5.5', BUILTIN_PRICING)).toBe('claude-opus-5-5');
    expect(nearestModel('gemini-3-pro', BUILTIN_PRICING)).toBeUndefined();
    expect(nearestModel('gpt-5.4-mimi', BUILTIN_PRICING)).toBe('gpt-5.4-mini');
  });
});

describe('OpenAI prices', () => {
  test('cached input at its own price, no premium for cache writes, dated ids priced as their alias', () => {
    expect(priceOf('gpt-5.4-mini', BUILTIN_PRICING)).toMatchObject({ input: 0.75, output: 4.5, cache_read: 0.075, cache_write: 0.75 });
    expect(priceOf('gpt-4.1-2025-04-14', BUILTIN_PRICING)).toBe(priceOf('gpt-4.1', BUILTIN_PRICING));
    expect(costOf('gpt-5.4', usage({ input_tokens: 100_000, cache_read_input_tokens: 100_000, output_tokens: 100_000 }), BUILTIN_PRICING)).toBeCloseTo(0.25 + 0.025 + 1.5, 9);
  });

  test('a prompt over 270,000 tokens bills the whole request at 2× input and 1.5× output (GPT-5.4, GPT-5.5)', () => {
    expect(costOf('gpt-5.5', usage({ input_tokens: 300_000, output_tokens: 1_000 }), BUILTIN_PRICING)).toBeCloseTo((300_000 * 10 + 1_000 * 45) / 1e6, 9);
  });
});
