import type { Scenario } from '../config/generated/scenario.js';
import { durationMs } from '../config/units.js';
import { checkSetup, checkStep, type Failure } from './expect.js';
import type { JudgeOutcome } from './judge.js';
import { runStep, type StepRun } from './steps.js';
import type { ModelCallReason } from '../records/reasons.js';
import type { SandboxPolicy } from '../process/sandbox.js';
import type { StartProcess } from '../records/events.js';

/** One step as the record keeps it (and as the judge reads it). */
export interface StepRecord {
  kind: 'setup' | 'step';
  command: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  duration_ms: number;
}

export interface ScenarioRunResult {
  run: number;
  passed: boolean;
  failures: Failure[];
  steps: StepRecord[];
  judge?: { score: number; reason: string; model: string; cached: boolean };
  duration_ms: number;
}

export interface ScenarioRunOptions {
  workspace: string;
  env: Record<string, string>;
  /** Confines setup commands and steps. */
  sandbox?: SandboxPolicy;
  /** The stage's `timeout`: the limit of one scenario run (setup, steps), in ms. */
  scenarioTimeoutMs: number | undefined;
  signal: AbortSignal;
  /** Tells the run about each setup command and step (docs/telemetry.md). */
  startProcess?: StartProcess;
  /** Scores the transcript; called only when every expectation held. */
  judge?: (rubric: string, transcript: string, model: string | undefined) => Promise<JudgeOutcome>;
}

/** The run was cut short by the judge (provider, budget) or an interruption: the stage ends in error. */
export interface ScenarioRunError {
  error: { reason: ModelCallReason; message: string };
  partial: ScenarioRunResult;
}

/**
 * One run of one scenario: setup commands (each must exit 0), then the steps in order, each with
 * its expectations; a step that times out ends the run (its process tree killed), a failed
 * expectation does not (later steps still add to the transcript). With a `judge`, the steps'
 * transcript is scored once every expectation held.
 */
export async function runScenario(scenario: Scenario, run: number, options: ScenarioRunOptions): Promise<ScenarioRunResult | ScenarioRunError> {
  const started = Date.now();
  const deadline = options.scenarioTimeoutMs === undefined ? undefined : started + options.scenarioTimeoutMs;
  const failures: Failure[] = [];
  const steps: StepRecord[] = [];
  const result = (): ScenarioRunResult => ({ run, passed: failures.length === 0, failures, steps, duration_ms: Date.now() - started });
  const exec = (command: string | readonly string[], stepTimeout: string | undefined) => {
    const own = stepTimeout === undefined ? undefined : durationMs(stepTimeout);
    const left = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
    const timeoutMs = own === undefined ? left : left === undefined ? own : Math.min(own, left);
    return runStep(command, { cwd: options.workspace, env: options.env, timeoutMs, signal: options.signal, ...(options.sandbox ? { sandbox: options.sandbox } : {}), ...(options.startProcess ? { startProcess: options.startProcess } : {}) });
  };
  const cut = (r: StepRun) => r.timedOut || r.cancelled;

  for (const [i, command] of (scenario.setup ?? []).entries()) {
    const r = await exec(command, undefined);
    steps.push(record('setup', r));
    failures.push(...checkSetup(`setup ${i + 1}`, r));
    if (failures.length > 0) return cancelledOr(result(), r);
  }
  for (const [i, step] of scenario.steps.entries()) {
    const r = await exec(step.run, step.timeout);
    steps.push(record('step', r));
    failures.push(...checkStep(`step ${i + 1}`, r, step.expect, options.workspace));
    if (cut(r)) return cancelledOr(result(), r);
  }
  const out = result();
  if (scenario.judge && out.passed && options.judge) {
    const verdict = await options.judge(scenario.judge.rubric, transcriptText(steps), scenario.judge.model);
    if (!verdict.ok) return { error: { reason: verdict.reason, message: verdict.message }, partial: out };
    const model = scenario.judge.model ?? '';
    out.judge = { score: verdict.verdict.score, reason: verdict.verdict.reason, model, cached: verdict.cached };
    if (verdict.verdict.score < 0.5) {
      failures.push({ step: 'judge', command: '', expectation: `judge score ≥ 0.5 for: ${scenario.judge.rubric.trim()}`, actual: `score ${verdict.verdict.score}: ${verdict.verdict.reason}` });
      out.passed = false;
    }
  }
  out.duration_ms = Date.now() - started;
  return out;
}

function cancelledOr(result: ScenarioRunResult, last: StepRun): ScenarioRunResult | ScenarioRunError {
  if (last.cancelled) return { error: { reason: { kind: 'cancelled' }, message: 'interrupted' }, partial: result };
  return result;
}

function record(kind: StepRecord['kind'], r: StepRun): StepRecord {
  return { kind, command: r.command, exit_code: r.exitCode, stdout: r.stdout, stderr: r.stderr, timed_out: r.timedOut, duration_ms: r.durationMs };
}

/** The steps' transcript a judge reads: each command, its exit code and its output (setup left out). */
export function transcriptText(steps: readonly StepRecord[]): string {
  return steps
    .filter((s) => s.kind === 'step')
    .map((s) => {
      const exit = s.timed_out ? 'timed out' : s.exit_code === null ? 'none (killed or not started)' : String(s.exit_code);
      return `$ ${s.command}\nexit code: ${exit}\nstdout:\n${block(s.stdout)}\nstderr:\n${block(s.stderr)}`;
    })
    .join('\n\n');
}

function block(text: string): string {
  return text.replace(/\s+$/, '') || '(empty)';
}
