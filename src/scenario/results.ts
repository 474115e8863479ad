import type { JsonValue } from '../config/pipeline.js';
import type { Failure } from './expect.js';
import type { ScenarioRunResult } from './run.js';

export type FeedbackLevel = 'none' | 'names' | 'full';

export interface ScenarioResult {
  name: string;
  description?: string;
  /** Path relative to the workspace. */
  file: string;
  weight: number;
  runs: ScenarioRunResult[];
}

export interface Tally {
  satisfaction: number;
  passed: boolean;
  spread: number;
}

/**
 * Satisfaction = passed weight / total weight, each scenario's weight split evenly over its
 * runs (docs/configuration.md); when every weight is 0, the plain fraction of passed runs. `spread` is
 * the largest 2·min(p, 1−p) over the scenarios, p being a scenario's pass rate.
 */
export function tally(results: readonly ScenarioResult[], threshold: number): Tally {
  let total = 0;
  let passedWeight = 0;
  let runs = 0;
  let passedRuns = 0;
  let spread = 0;
  for (const r of results) {
    const n = r.runs.length;
    if (n === 0) continue;
    const ok = r.runs.filter((x) => x.passed).length;
    total += r.weight;
    passedWeight += (r.weight * ok) / n;
    runs += n;
    passedRuns += ok;
    const p = ok / n;
    spread = Math.max(spread, 2 * Math.min(p, 1 - p));
  }
  const satisfaction = total > 0 ? passedWeight / total : runs > 0 ? passedRuns / runs : 1;
  const rounded = round(satisfaction);
  // A small tolerance, so that 1/3 + 2/3 of the weight meets a threshold of 1.0.
  return { satisfaction: rounded, passed: satisfaction + 1e-9 >= threshold, spread: round(spread) };
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

const passedAll = (r: ScenarioResult) => r.runs.length > 0 && r.runs.every((x) => x.passed);

/**
 * The outputs a scenario-validate stage gives, obeying `feedback` (outputs flow into prompts):
 * - none: satisfaction, passed and spread; `results` is empty and `feedback` states the figures;
 * - names: also each failed scenario's name and description (`results` lists the failed
 *   scenarios only, `failures` empty) — never a step, a command or an expected value;
 * - full: every scenario, with per failure the step's command, the expectation that did not
 *   hold and an excerpt of the actual output.
 */
export function stageOutputs(results: readonly ScenarioResult[], t: Tally, threshold: number, level: FeedbackLevel): Record<string, JsonValue> {
  const shown = level === 'none' ? [] : level === 'names' ? results.filter((r) => !passedAll(r)) : results;
  const entries = shown.map((r): JsonValue => {
    const entry: Record<string, JsonValue> = { name: r.name };
    if (r.description !== undefined) entry.description = r.description;
    entry.passed = passedAll(r);
    entry.failures = level === 'full' ? uniqueFailures(r).map((f) => failureJson(f)) : [];
    entry.runs_passed = r.runs.filter((x) => x.passed).length;
    if (level === 'full') entry.runs = r.runs.length;
    return entry;
  });
  return {
    satisfaction: t.satisfaction,
    passed: t.passed,
    results: entries,
    spread: t.spread,
    feedback: feedbackText(results, t, threshold, level),
  };
}

/** The failures of every run of a scenario, each different one once, with the runs it happened in. */
function uniqueFailures(r: ScenarioResult): (Failure & { runs?: number[] })[] {
  const byKey = new Map<string, Failure & { runs?: number[] }>();
  for (const run of r.runs) {
    for (const f of run.failures) {
      const key = `${f.step}\u0000${f.expectation}`;
      const have = byKey.get(key);
      if (have) have.runs?.push(run.run);
      else byKey.set(key, { ...f, ...(r.runs.length > 1 ? { runs: [run.run] } : {}) });
    }
  }
  return [...byKey.values()];
}

function failureJson(f: Failure & { runs?: number[] }): JsonValue {
  const out: Record<string, JsonValue> = { step: f.step, command: f.command, expectation: f.expectation, actual: f.actual };
  if (f.reason) out.reason = f.reason;
  if (f.runs) out.runs = f.runs;
  return out;
}

function figures(t: Tally, threshold: number): string {
  return `satisfaction ${t.satisfaction.toFixed(2)} (threshold ${threshold.toFixed(2)})${t.spread > 0 ? `, spread ${t.spread.toFixed(2)}` : ''}`;
}

/** The `feedback` text, written for the next iteration's prompt. */
export function feedbackText(results: readonly ScenarioResult[], t: Tally, threshold: number, level: FeedbackLevel): string {
  const failed = results.filter((r) => !passedAll(r));
  if (t.passed && failed.length === 0) return `All held-out scenarios passed: ${figures(t, threshold)}.`;
  const head = `Held-out scenarios ${t.passed ? 'passed the threshold' : 'did not pass'}: ${figures(t, threshold)}.`;
  if (level === 'none' || failed.length === 0) return head;
  const lines = [head, 'Failed scenarios:'];
  for (const r of failed) {
    const runs = r.runs.length > 1 ? ` (passed ${r.runs.filter((x) => x.passed).length} of ${r.runs.length} runs)` : '';
    lines.push(`- ${r.name}${r.description ? `: ${r.description.trim()}` : ''}${runs}`);
    if (level !== 'full') continue;
    for (const f of uniqueFailures(r)) {
      const where = f.command ? `${f.step} \`${f.command}\`` : f.step;
      lines.push(`  - ${where}: expected ${f.expectation}; got ${indentTail(f.actual)}`);
    }
  }
  return lines.join('\n');
}

function indentTail(text: string): string {
  return text.replace(/\n/g, '\n    ');
}
