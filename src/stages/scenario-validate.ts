import { writeFile } from 'node:fs/promises';
import type { ProviderName, ScenarioValidateStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import type { CallKey } from '../providers/types.js';
import { patternsOf } from '../scenario/holdout.js';
import { JudgeCache } from '../scenario/judge-cache.js';
import { askJudge, judgeRequest, type JudgeCall, type JudgeOutcome } from '../scenario/judge.js';
import { loadScenarios } from '../scenario/load.js';
import { stageOutputs, tally, type FeedbackLevel, type ScenarioResult } from '../scenario/results.js';
import { runScenario } from '../scenario/run.js';
import { commandEnv } from './command-env.js';
import { sandboxPolicy, sandboxUnavailable } from './sandbox-policy.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';
import { addUsage } from '../base/usage.js';
import { ZERO_USAGE, type Usage } from '../base/usage.js';
import { expressionReason } from '../engine/expressions.js';
import { callReason } from '../providers/call-reason.js';
import type { Reason } from '../records/reasons.js';

/** A judge answers with one short tool call. */
const JUDGE_MAX_TOKENS = 1024;

/**
 * `kind: scenario-validate` (docs/configuration.md): the held-out scenarios, run one after the other
 * (they share the workspace), each `runs` times; satisfaction against `threshold`; outputs that
 * reveal only what `feedback` allows. The stage's `timeout` limits each scenario run, so the
 * scheduler does not apply it to the whole stage. Per-scenario transcripts go to
 * `stages/<path>[@iteration].scenarios.json` beside the stage's file.
 */
export const scenarioValidateExecutor: StageExecutor = {
  holdsSlot: true,
  ownsTimeout: true,
  async run(ctx) {
    const def = ctx.node.def as ScenarioValidateStage;
    const patterns: string[] = [];
    for (const [i, p] of patternsOf(def).entries()) {
      const r = ctx.render(p, typeof def.scenarios === 'string' ? ['scenarios'] : ['scenarios', i]);
      if (!r.ok) return fail(expressionReason(r), `scenarios: ${r.message}`);
      patterns.push(typeof r.value === 'string' ? r.value : JSON.stringify(r.value));
    }
    const loaded = loadScenarios(patterns, ctx.pipeline.dir);
    if (!loaded.ok) return fail({ kind: 'config' }, loaded.message);
    const env = commandEnv(ctx, undefined);
    if (!env.ok) return fail(expressionReason(env), env.message);
    const sandbox = sandboxPolicy(ctx, ctx.pipeline.dir);
    const unavailable = await sandboxUnavailable(sandbox);
    if (unavailable) return unavailable;

    const level: FeedbackLevel = def.feedback ?? 'names';
    const threshold = def.threshold ?? 1;
    const runs = def.runs ?? 1;
    const judge = judgeService(ctx);
    const results: ScenarioResult[] = [];
    const recordFile = ctx.logFile('stdout').replace(/\.stdout$/, '.scenarios.json');
    const save = () => writeFile(recordFile, `${JSON.stringify({ version: 1, stage: ctx.node.path, ...(ctx.iteration ? { iteration: ctx.iteration } : {}), scenarios: results }, null, 2)}\n`).catch(() => undefined);
    // With the engine's model services, the engine adds up what the judge's calls spent.
    const spent = () => (ctx.models ? {} : { usage: judge.usage, cost_usd: Math.round(judge.cost * 1e6) / 1e6 });

    for (const { file, scenario } of loaded.scenarios) {
      const entry: ScenarioResult = { name: scenario.name, file, weight: scenario.weight ?? 1, runs: [] };
      if (scenario.description !== undefined) entry.description = scenario.description;
      results.push(entry);
      for (let run = 1; run <= runs; run++) {
        const r = await runScenario(scenario, run, {
          workspace: ctx.pipeline.dir,
          env: env.env,
          ...(sandbox ? { sandbox } : {}),
          scenarioTimeoutMs: ctx.node.timeoutMs,
          signal: ctx.signal,
          ...(ctx.startProcess ? { startProcess: ctx.startProcess } : {}),
          judge: (rubric, transcript, model) => judge.score(rubric, transcript, model, { scenario: scenario.name, run }),
        });
        if ('error' in r) {
          entry.runs.push(r.partial);
          await save();
          const where = `scenario "${scenario.name}"${runs > 1 ? ` run ${run}` : ''}`;
          return { status: 'error', reason: r.error.reason, message: `${where}: ${r.error.message}`, outputs: {}, ...spent() };
        }
        entry.runs.push(r);
        progress(ctx, scenario.name, run, runs, r.passed, r.failures.length);
      }
    }
    await save();
    const t = tally(results, threshold);
    const outputs = stageOutputs(results, t, threshold, level);
    const failedNames = level === 'none' ? [] : results.filter((r) => !r.runs.every((x) => x.passed)).map((r) => r.name);
    const total = results.reduce((n, r) => n + r.runs.length, 0);
    const passedRuns = results.reduce((n, r) => n + r.runs.filter((x) => x.passed).length, 0);
    const counts = `${passedRuns} of ${total} scenario${runs > 1 ? ' runs' : 's'} passed`;
    if (t.passed) return { status: 'succeeded', message: `satisfaction ${t.satisfaction.toFixed(2)}: ${counts}`, outputs, ...spent() };
    return {
      status: 'failed',
      reason: { kind: 'threshold', satisfaction: t.satisfaction, threshold },
      message: `satisfaction ${t.satisfaction.toFixed(2)} below the threshold ${threshold.toFixed(2)}: ${counts}${failedNames.length ? `; failed: ${failedNames.join(', ')}` : ''}`,
      outputs,
      ...spent(),
    };
  },
};

function fail(reason: Reason, message: string): StageResult {
  return { status: 'error', reason, message, outputs: {} };
}

function progress(ctx: StageContext, name: string, run: number, runs: number, passed: boolean, failures: number): void {
  const line = `${passed ? 'passed' : 'failed'}  ${name}${runs > 1 ? ` (run ${run}/${runs})` : ''}${passed ? '' : ` — ${failures} failure${failures === 1 ? '' : 's'}`}\n`;
  ctx.output('stdout', Buffer.from(line));
}

interface JudgeService {
  score(rubric: string, transcript: string, model: string | undefined, key: { scenario: string; run: number }): Promise<JudgeOutcome>;
  usage: Usage;
  cost: number;
}

/**
 * The judge: the stage's model services when the engine gives them (numbered, budgeted,
 * recorded calls), else its provider directly; verdicts cached by (rubric, transcript, model),
 * reused unless the run says not to (`--no-cache`).
 */
function judgeService(ctx: StageContext): JudgeService {
  const cache = new JudgeCache(ctx.pipeline.dir);
  const models = ctx.models;
  const def = ctx.node.def as ScenarioValidateStage;
  const defaults = (ctx.pipeline.config.defaults ?? {}) as { model?: string; max_tokens?: number; provider?: ProviderName };
  const stageModel = models?.model ?? def.judge_model ?? defaults.model;
  const maxTokens = Math.min(models?.maxTokens ?? defaults.max_tokens ?? JUDGE_MAX_TOKENS, JUDGE_MAX_TOKENS);
  const call: JudgeCall = models ? (request, key) => models.call(request, { key }) : directCall(ctx, defaults.provider ?? 'anthropic');
  const service: JudgeService = {
    usage: { ...ZERO_USAGE },
    cost: 0,
    async score(rubric, transcript, scenarioModel, key) {
      const model = scenarioModel ?? stageModel;
      if (model === undefined) return { ok: false, reason: { kind: 'config' }, message: 'a scenario has a judge but no model is set: give the stage `judge_model`, or set `defaults.model`' };
      const hash = JudgeCache.key(rubric, transcript, model);
      // --no-cache asks anew (and keeps the fresh verdict for later runs).
      const hit = ctx.reuse ? cache.get(hash) : undefined;
      if (hit) return { ok: true, verdict: hit, cached: true };
      const counted: JudgeCall = async (request, k) => {
        const r = await call(request, k);
        const u = r.ok ? r.usage : r.usage;
        if (u) addUsage(service.usage, u);
        service.cost += (r.ok ? r.cost_usd : r.cost_usd) ?? 0;
        return r;
      };
      const outcome = await askJudge(counted, judgeRequest(model, maxTokens, rubric, transcript), key);
      if (outcome.ok) cache.put(hash, outcome.verdict, model);
      return outcome;
    },
  };
  return service;
}

/** Without the engine's model services: the provider made here, calls keyed as docs/running.md says. */
function directCall(ctx: StageContext, providerName: ProviderName): JudgeCall {
  const counters = new Map<string, number>();
  let made: Promise<import('../providers/index.js').ProviderResult> | undefined;
  return async (request, key) => {
    const lib = await import('../providers/index.js');
    made ??= Promise.resolve(lib.createProvider(providerName, { dir: ctx.pipeline.dir, providers: ctx.pipeline.config.providers, pricing: ctx.pipeline.config.pricing }, ctx.processEnv));
    const provider = await made;
    if (!provider.ok) return { ok: false, reason: { kind: 'provider', cause: provider.error.kind }, message: provider.error.message };
    const group = `${key.scenario}\u0000${key.run}`;
    const n = (counters.get(group) ?? 0) + 1;
    counters.set(group, n);
    const callKey: CallKey = { stage: ctx.node.path, iteration: ctx.iteration ?? 0, call: n, scenario: key.scenario, run: key.run };
    const answer = await provider.provider.call(request, { key: callKey, signal: ctx.signal });
    if (!answer.ok) return { ok: false, reason: callReason(answer.error), message: answer.error.message };
    const usage = lib.usageOf(answer.message);
    const cost = lib.costOf(request.model, usage, lib.pricingTable(ctx.pipeline.config.pricing)) ?? 0;
    // A verdict cut off at max_tokens is never taken (docs/models-and-budgets.md).
    if (answer.message.stop_reason === 'max_tokens') return { ok: false, reason: { kind: 'output', cause: 'max_tokens' }, message: `the judge's answer was cut off at max_tokens ${request.max_tokens}`, usage, cost_usd: cost };
    return { ok: true, message: answer.message, usage, cost_usd: cost };
  };
}


export type { JsonValue };
