import { describe, expect, test } from 'vitest';
import { BudgetLedger, budgetLimits, tokensOf } from '../../../src/engine/budget/budget.js';
import { costOf, pricingTable } from '../../../src/config/pricing.js';
import type { Usage } from '../../../src/base/usage.js';

const usage = (u: Partial<Usage>): Usage => ({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...u });
const SONNET = 'claude-sonnet-5-5'; // $2 in, $10 out per million

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('reserve', () => {
  test('caps max_tokens to the tokens left after the prompt', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 10_000 } });
    run.charge(usage({ input_tokens: 5_000, output_tokens: 1_000 }), 0);
    const first = run.reserve({ model: SONNET, maxTokens: 8_192, promptTokens: 2_000 });
    expect(first).toMatchObject({ ok: true, maxTokens: 2_000 });
    if (first.ok) first.hold.release();
    expect(run.reserve({ model: SONNET, maxTokens: 500, promptTokens: 2_000 })).toMatchObject({ ok: true, maxTokens: 500 });
  });

  test('refuses a call that cannot be paid for: fewer tokens left than the prompt and one output token', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 10_000 } });
    run.charge(usage({ input_tokens: 9_000 }), 0);
    expect(run.reserve({ model: SONNET, maxTokens: 100, promptTokens: 999 })).toMatchObject({ ok: true, maxTokens: 1 });
    expect(run.reserve({ model: SONNET, maxTokens: 100, promptTokens: 1_000 })).toMatchObject({
      ok: false,
      exhausted: { scope: 'run', budget: 'tokens', spent: 9_000, limit: 10_000, needed: 1_001 },
    });
  });

  test('caps by dollars at the output price, and refuses when the prompt alone costs too much', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { cost_usd: 0.01 } });
    // $0.01 - 1000 prompt tokens × $2.50/M (a cache write, the dearest way to send them) = $0.0075 left → 750 output tokens at $10/M.
    expect(run.reserve({ model: SONNET, maxTokens: 8_192, promptTokens: 1_000 })).toMatchObject({ ok: true, maxTokens: 750 });
    const broke = run.reserve({ model: SONNET, maxTokens: 8_192, promptTokens: 5_000 });
    expect(broke.ok).toBe(false);
    expect(!broke.ok && broke.exhausted).toMatchObject({ scope: 'run', budget: 'cost_usd', spent: 0, limit: 0.01 });
  });

  test('a model without a price is not capped by dollars', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { cost_usd: 0.000001 } });
    expect(run.reserve({ model: 'my-local-model', maxTokens: 1000 })).toMatchObject({ ok: true, maxTokens: 1000 });
  });

  test('pricing: overrides change the cap', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { cost_usd: 1 }, pricing: pricingTable({ [SONNET]: { input: 0, output: 1000 } }) });
    expect(run.reserve({ model: SONNET, maxTokens: 8_192 })).toMatchObject({ ok: true, maxTokens: 1000 });
  });

  test('every ancestor is consulted: the tightest scope wins and is named', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 1_000 } });
    const loop = run.child('build', { tokens: 100_000 });
    const stage = loop.child('build.generate', { tokens: 50_000 });
    expect(stage.reserve({ model: SONNET, maxTokens: 8_192, promptTokens: 200 })).toMatchObject({ ok: true, maxTokens: 800 });
    run.charge(usage({ input_tokens: 1_000 }), 0);
    const refused = stage.reserve({ model: SONNET, maxTokens: 10 });
    expect(!refused.ok && refused.exhausted.scope).toBe('run');
  });
});

describe('charge', () => {
  test('counts input, output and cache tokens, and charges every ancestor', () => {
    const run = new BudgetLedger({ scope: 'run' });
    const loop = run.child('build');
    const stage = loop.child('build.generate');
    const u = usage({ input_tokens: 100, output_tokens: 50, cache_creation_input_tokens: 1_000, cache_read_input_tokens: 4_000 });
    expect(tokensOf(u)).toBe(5_150);
    const cost = costOf(SONNET, u, pricingTable())!;
    stage.charge(u, cost);
    for (const l of [stage, loop, run]) expect(l.spent()).toMatchObject({ tokens: 5_150, cost_usd: cost });
    loop.child('build.test').charge(usage({ output_tokens: 10 }), 0.5);
    expect(run.spent().tokens).toBe(5_160);
    expect(stage.spent().tokens).toBe(5_150);
    expect(run.spent().cost_usd).toBeCloseTo(cost + 0.5, 12);
  });

  test('exhaustion after a charge names the scope and budget, spent against limit', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { cost_usd: 1 } });
    const stage = run.child('review', { tokens: 1_000 });
    expect(stage.charge(usage({ input_tokens: 400 }), 0.2)).toBeUndefined();
    expect(stage.charge(usage({ input_tokens: 700 }), 0.2)).toEqual({ scope: 'review', budget: 'tokens', spent: 1_100, limit: 1_000 });
    const other = run.child('plan');
    expect(other.exhausted()).toBeUndefined();
    expect(other.charge(usage({}), 0.7)).toEqual({ scope: 'run', budget: 'cost_usd', spent: 1.1, limit: 1 });
    expect(other.reserve({ model: SONNET, maxTokens: 10 }).ok).toBe(false);
  });

  test('extend raises a limit after an approved question', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 100 } });
    expect(run.charge(usage({ input_tokens: 100 }), 0)).toMatchObject({ budget: 'tokens' });
    run.extend({ tokens: 100 });
    expect(run.exhausted()).toBeUndefined();
    expect(run.remaining().tokens).toBe(100);
  });
});

describe('warnings', () => {
  test('each crossing of warn_at is returned once per scope and budget', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 1_000, cost_usd: 10 } });
    const stage = run.child('plan', { tokens: 500, warn_at: 0.5 });
    stage.charge(usage({ input_tokens: 200 }), 1);
    expect(stage.warnings()).toEqual([]);
    stage.charge(usage({ input_tokens: 100 }), 1);
    expect(stage.warnings()).toEqual([{ scope: 'plan', budget: 'tokens', spent: 300, limit: 500 }]);
    expect(stage.warnings()).toEqual([]);
    stage.charge(usage({ input_tokens: 500 }), 7);
    expect(stage.warnings()).toEqual([
      { scope: 'run', budget: 'tokens', spent: 800, limit: 1_000 },
      { scope: 'run', budget: 'cost_usd', spent: 9, limit: 10 },
    ]);
    // Another stage of the same run does not repeat the run's warnings.
    expect(run.child('review').warnings()).toEqual([]);
  });

  test('wall time warns as well', () => {
    const c = clock();
    const run = new BudgetLedger({ scope: 'run', limits: { wall_time_ms: 10_000 }, clock: c.now });
    c.advance(7_000);
    expect(run.warnings()).toEqual([]);
    c.advance(1_000);
    expect(run.warnings()).toEqual([{ scope: 'run', budget: 'wall_time', spent: 8_000, limit: 10_000 }]);
  });
});

describe('wall time', () => {
  test('time paused for a human does not count; the refusal names wall_time', () => {
    const c = clock();
    const run = new BudgetLedger({ scope: 'run', limits: { wall_time_ms: 60_000 }, clock: c.now });
    const approve = run.child('gate');
    c.advance(20_000);
    approve.pause();
    c.advance(3_600_000);
    expect(run.elapsedMs()).toBe(20_000);
    approve.resume();
    c.advance(10_000);
    expect(run.spent().wall_time_ms).toBe(30_000);
    expect(run.remaining().wall_time_ms).toBe(30_000);
    expect(run.reserve({ model: SONNET, maxTokens: 10 }).ok).toBe(true);
    c.advance(30_000);
    expect(run.reserve({ model: SONNET, maxTokens: 10 })).toEqual({ ok: false, exhausted: { scope: 'run', budget: 'wall_time', spent: 60_000, limit: 60_000 } });
    expect(run.exhausted()).toMatchObject({ budget: 'wall_time' });
  });

  test('pauses nest: two waiting stages both have to resume', () => {
    const c = clock();
    const run = new BudgetLedger({ scope: 'run', clock: c.now });
    const a = run.child('a');
    const b = run.child('b');
    a.pause();
    b.pause();
    c.advance(1_000);
    a.resume();
    c.advance(1_000);
    expect(run.elapsedMs()).toBe(0);
    b.resume();
    c.advance(1_000);
    expect(run.elapsedMs()).toBe(1_000);
    expect(b.elapsedMs()).toBe(1_000);
    expect(a.elapsedMs()).toBe(2_000);
  });
});

describe('expression context and limits from config', () => {
  test('remaining is the tightest over the scopes; null where no limit', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 10_000, cost_usd: 5 } });
    const stage = run.child('plan', { tokens: 2_000 });
    stage.charge(usage({ input_tokens: 1_500 }), 1.25);
    expect(stage.remaining()).toEqual({ tokens: 500, cost_usd: 3.75, wall_time_ms: null });
    expect(run.context()).toEqual({ spent_usd: 1.25, spent_tokens: 1_500, remaining_usd: 3.75, remaining_tokens: 8_500 });
    expect(new BudgetLedger({ scope: 'run' }).context()).toEqual({ spent_usd: 0, spent_tokens: 0, remaining_usd: null, remaining_tokens: null });
  });

  test('budgetLimits reads a budget block as written', () => {
    expect(budgetLimits({ tokens: '2M', cost_usd: 20, wall_time: '45m', warn_at: 0.9 })).toEqual({ tokens: 2_000_000, cost_usd: 20, wall_time_ms: 2_700_000, warn_at: 0.9 });
    expect(budgetLimits({ tokens: 500 })).toEqual({ tokens: 500 });
    expect(budgetLimits(undefined)).toEqual({});
  });
});

describe('holds: parallel calls share what is left (docs/models-and-budgets.md)', () => {
  test('a reservation holds its worst case in every scope until it is settled', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 3_000 } });
    const a = run.child('a');
    const first = a.reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 });
    expect(first).toMatchObject({ ok: true, maxTokens: 1_000 });
    expect(run.held().tokens).toBe(1_500);
    expect(a.held().tokens).toBe(1_500);
    // What is left after the hold: 1,500 tokens — a second call of the same size fits.
    const second = run.child('b').reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 });
    expect(second).toMatchObject({ ok: true, maxTokens: 1_000 });
    // A third must wait for one of them: it would otherwise take tokens they may still spend.
    const third = run.child('c').reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 });
    expect(third.ok).toBe(false);
    expect(!third.ok && third.wait).toBeInstanceOf(Promise);
  });

  test('spending turns held tokens into spent ones; release gives back the rest and wakes a waiter', async () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 2_000 } });
    const first = run.reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 });
    if (!first.ok) throw new Error('expected a hold');
    const waiting = run.reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 });
    if (waiting.ok || !waiting.wait) throw new Error('expected to wait');
    let woke = false;
    void waiting.wait.then(() => (woke = true));
    first.hold.spend(usage({ input_tokens: 500 }), 0);
    expect(run.spent().tokens).toBe(500);
    expect(run.held().tokens).toBe(1_000);
    first.hold.spend(usage({ output_tokens: 200 }), 0);
    first.hold.release();
    first.hold.release();
    expect(run.held().tokens).toBe(0);
    expect(run.spent().tokens).toBe(700);
    await Promise.resolve();
    expect(woke).toBe(true);
    expect(run.reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 500 })).toMatchObject({ ok: true, maxTokens: 800 });
  });

  test('with nothing held elsewhere, the last call takes what is left rather than wait', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 1_200 } });
    expect(run.reserve({ model: SONNET, maxTokens: 8_192, promptTokens: 200 })).toMatchObject({ ok: true, maxTokens: 1_000 });
  });

  test('eight parallel calls under a tight budget never hold more than the limit, whatever order they settle in', async () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 3_000 } });
    let served = 0;
    const call = async (i: number) => {
      for (;;) {
        const r = run.child(`s${i}`).reserve({ model: SONNET, maxTokens: 1_024, promptTokens: 300 });
        if (r.ok) {
          await new Promise((res) => setTimeout(res, (i * 7) % 5));
          // The model answers with up to what it was allowed.
          const used = usage({ input_tokens: 300, output_tokens: Math.min(r.maxTokens, 400 + i * 90) });
          served += tokensOf(used);
          r.hold.spend(used, 0);
          r.hold.release();
          return 'answered';
        }
        if (!r.wait) return 'refused';
        await r.wait;
      }
    };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i)));
    expect(results).toContain('refused');
    expect(served).toBe(run.spent().tokens);
    expect(run.spent().tokens).toBeLessThanOrEqual(3_000);
    expect(run.held().tokens).toBe(0);
  });

  test('a cost budget holds the prompt at the cache-write price and the output at the output price', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { cost_usd: 0.02 } });
    const r = run.reserve({ model: SONNET, maxTokens: 1_000, promptTokens: 1_000 });
    expect(r).toMatchObject({ ok: true, maxTokens: 1_000 });
    expect(run.held().cost_usd).toBeCloseTo(0.0025 + 0.01, 12);
  });

  test('seed counts earlier spending in this scope alone; affords looks without holding', () => {
    const run = new BudgetLedger({ scope: 'run', limits: { tokens: 5_000 } });
    const loop = run.child('build', { tokens: 2_000 });
    run.seed(usage({ input_tokens: 3_000 }), 0);
    loop.seed(usage({ input_tokens: 1_500 }), 0);
    expect(run.spent().tokens).toBe(3_000);
    expect(loop.spent().tokens).toBe(1_500);
    expect(loop.affords({ model: SONNET, maxTokens: 400, promptTokens: 50 })).toBe(true);
    expect(loop.affords({ model: SONNET, maxTokens: 600, promptTokens: 50 })).toBe(false);
    expect(run.held().tokens).toBe(0);
  });
});
