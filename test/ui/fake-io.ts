import type { Iteration } from '../../src/records/iteration.js';
import type { CliIO } from '../../src/base/io.js';
import type { EngineEvent } from '../../src/records/events.js';
import type { Usage } from '../../src/base/usage.js';

/** A CliIO that keeps what is written; `isTTY` and `columns` as a test needs them. */
export interface FakeStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  text: string;
}

export function fakeStream(tty = false, columns?: number): FakeStream {
  const stream: FakeStream = {
    text: '',
    write(text: string) {
      stream.text += text;
      return true;
    },
  };
  if (tty) {
    stream.isTTY = true;
    stream.rows = 50;
  }
  if (columns !== undefined) stream.columns = columns;
  return stream;
}

export function fakeIO(options: { env?: NodeJS.ProcessEnv; tty?: boolean; columns?: number } = {}): CliIO & { stdout: FakeStream; stderr: FakeStream } {
  return {
    stdout: fakeStream(options.tty, options.columns),
    stderr: fakeStream(options.tty, options.columns),
    cwd: '/work',
    env: options.env ?? {},
  };
}

export const ZERO: Usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

export function usage(input: number, output: number, cacheWrite = 0, cacheRead = 0): Usage {
  return { input_tokens: input, output_tokens: output, cache_creation_input_tokens: cacheWrite, cache_read_input_tokens: cacheRead };
}

/** Builds events of one run with times that advance by the given milliseconds. */
export class Script {
  private t: number;
  readonly events: EngineEvent[] = [];

  constructor(
    readonly run = 'r1',
    start = Date.UTC(2026, 0, 2, 13, 15, 0),
  ) {
    this.t = start;
  }

  at(advanceMs = 0): string {
    this.t += advanceMs;
    return new Date(this.t).toISOString();
  }

  push<E extends EngineEvent>(event: E): E {
    this.events.push(event);
    return event;
  }

  started(stages: { path: string; kind: string; needs?: string[]; max_iterations?: number }[], dt = 0): EngineEvent {
    return this.push({
      type: 'run_started',
      time: this.at(dt),
      run: this.run,
      name: 'demo',
      file: 'factory.yaml',
      dir: '/work',
      resumed: false,
      stages: stages.map((s) => ({ path: s.path, kind: s.kind as never, needs: s.needs ?? [], ...(s.max_iterations !== undefined ? { max_iterations: s.max_iterations } : {}) })),
    });
  }

  stageStarted(stage: string, dt = 0, extra: { iteration?: Iteration; attempt?: number; kind?: string } = {}): EngineEvent {
    return this.push({
      type: 'stage_started',
      time: this.at(dt),
      run: this.run,
      stage,
      ...(extra.iteration !== undefined ? { iteration: extra.iteration } : {}),
      kind: (extra.kind ?? 'command') as never,
      attempt: extra.attempt ?? 1,
    });
  }

  output(stage: string, chunk: string, dt = 0, extra: { iteration?: Iteration; stream?: 'stdout' | 'stderr' } = {}): EngineEvent {
    return this.push({
      type: 'stage_output',
      time: this.at(dt),
      run: this.run,
      stage,
      ...(extra.iteration !== undefined ? { iteration: extra.iteration } : {}),
      stream: extra.stream ?? 'stdout',
      chunk,
    });
  }

  modelCall(stage: string, u: Usage, cost: number, dt = 0, iteration?: Iteration): EngineEvent {
    return this.push({ type: 'model_call', time: this.at(dt), run: this.run, stage, ...(iteration !== undefined ? { iteration } : {}), model: 'claude-sonnet-4-5', usage: u, cost_usd: cost });
  }

  budgetWarning(stage: string, budget: string, spent: number, limit: number, dt = 0): EngineEvent {
    return this.push({ type: 'budget_warning', time: this.at(dt), run: this.run, stage, budget, spent, limit });
  }

  approval(stage: string, message: string, command: string, dt = 0): EngineEvent {
    return this.push({ type: 'approval_waiting', time: this.at(dt), run: this.run, stage, message, command });
  }

  finished(
    stage: string,
    status: 'succeeded' | 'failed' | 'error' | 'skipped' | 'cancelled',
    durationMs: number,
    extra: { reason?: string; message?: string; cached?: boolean; usage?: Usage; cost?: number; iteration?: Iteration } = {},
  ): EngineEvent {
    return this.push({
      type: 'stage_finished',
      time: this.at(durationMs),
      run: this.run,
      stage,
      ...(extra.iteration !== undefined ? { iteration: extra.iteration } : {}),
      status,
      ...(extra.reason !== undefined ? { reason: extra.reason as never } : {}),
      ...(extra.message !== undefined ? { message: extra.message } : {}),
      cached: extra.cached ?? false,
      duration_ms: durationMs,
      usage: extra.usage ?? ZERO,
      cost_usd: extra.cost ?? 0,
    });
  }

  runFinished(status: 'succeeded' | 'failed' | 'error' | 'cancelled', exitCode: number, durationMs: number, u: Usage = ZERO, cost = 0, dt = 0): EngineEvent {
    return this.push({
      type: 'run_finished',
      time: this.at(dt),
      run: this.run,
      status,
      exit_code: exitCode,
      duration_ms: durationMs,
      usage: u,
      cost_usd: cost,
      record: `.factory/runs/${this.run}`,
    });
  }
}
