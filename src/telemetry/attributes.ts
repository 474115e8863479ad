import type { Attributes } from '@opentelemetry/api';
import type { Usage } from '../base/usage.js';
import type { EngineEvent } from '../records/events.js';
import { chainOf, type Iteration } from '../records/iteration.js';

/**
 * The names and attributes of the trace's spans (docs/telemetry.md): factory's own under
 * `factory.*`, model calls and tool calls in the GenAI semantic conventions, processes in the
 * `process.*` ones. Pure functions of the events.
 */

type Of<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export function runName(name: string): string {
  return `run ${name}`;
}

export function runStartAttributes(e: Of<'run_started'>): Attributes {
  return { 'factory.run.id': e.run, 'factory.pipeline.name': e.name, 'factory.pipeline.file': e.file, 'factory.run.resumed': e.resumed };
}

export function runEndAttributes(e: Of<'run_finished'>): Attributes {
  return { 'factory.run.status': e.status, 'factory.run.exit_code': e.exit_code, 'factory.cost_usd': e.cost_usd, ...usageTotals(e.usage) };
}

export function stageName(path: string): string {
  return `stage ${path}`;
}

/** The fan-out instance a stage runs in: the last `[…]` of its path (`attempt[2].generate` → `2`). */
export function instanceOf(path: string): string | undefined {
  return /\[([^\]]*)\][^[]*$/.exec(path)?.[1];
}

/** `factory.stage.iteration`: the innermost loop's; in nested loops `factory.stage.iterations` gives them all, the outermost first. */
export function stageStartAttributes(path: string, kind: string | undefined, iteration: Iteration | undefined): Attributes {
  const instance = instanceOf(path);
  const chain = chainOf(iteration);
  return {
    'factory.stage.path': path,
    ...(kind !== undefined ? { 'factory.stage.kind': kind } : {}),
    ...(chain.length > 0 ? { 'factory.stage.iteration': chain.at(-1) } : {}),
    ...(chain.length > 1 ? { 'factory.stage.iterations': chain } : {}),
    ...(instance !== undefined ? { 'factory.stage.instance': instance } : {}),
  };
}

export function stageEndAttributes(e: Of<'stage_finished'>): Attributes {
  return {
    'factory.stage.status': e.status,
    ...(e.reason !== undefined ? { 'factory.stage.reason': e.reason } : {}),
    'factory.stage.cached': e.cached,
    ...(e.kept ? { 'factory.stage.kept': true } : {}),
    'factory.cost_usd': e.cost_usd,
    ...usageTotals(e.usage),
  };
}

/** GenAI's span name for an inference: `{operation} {model}`. */
export function modelCallName(e: Of<'model_call'>): string {
  return `chat ${e.model}`;
}

/**
 * `gen_ai.usage.input_tokens` counts every input token, cached ones included (the convention's
 * note); Anthropic reports the uncached part alone, so the three are added up, and the cached
 * parts are given on their own as well.
 */
export function modelCallAttributes(e: Of<'model_call'>): Attributes {
  const u = e.usage;
  return {
    'gen_ai.operation.name': 'chat',
    ...(e.provider !== undefined ? { 'gen_ai.provider.name': e.provider } : {}),
    'gen_ai.request.model': e.model,
    ...(e.response_model !== undefined ? { 'gen_ai.response.model': e.response_model } : {}),
    'gen_ai.usage.input_tokens': u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens,
    'gen_ai.usage.output_tokens': u.output_tokens,
    'gen_ai.usage.cache_creation.input_tokens': u.cache_creation_input_tokens,
    'gen_ai.usage.cache_read.input_tokens': u.cache_read_input_tokens,
    'factory.cost_usd': e.cost_usd,
    ...(e.call_id !== undefined ? { 'factory.call_id': e.call_id } : {}),
    ...(e.error !== undefined ? { 'error.type': 'model_call' } : {}),
  };
}

export function toolCallName(e: Of<'tool_call'>): string {
  return `execute_tool ${e.tool}`;
}

export function toolCallAttributes(e: Of<'tool_call'>): Attributes {
  return { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': e.tool, 'gen_ai.tool.call.id': e.call_id, ...(e.error ? { 'error.type': 'tool_error' } : {}) };
}

export function processName(e: Of<'process'>): string {
  return `${e.role} ${e.program}`;
}

export function processAttributes(e: Of<'process'>): Attributes {
  return {
    'process.executable.name': e.program,
    'factory.process.role': e.role,
    ...(e.exit_code !== null ? { 'process.exit.code': e.exit_code } : {}),
    ...(e.signal !== undefined ? { 'factory.process.signal': e.signal } : {}),
    ...(e.error !== undefined ? { 'error.type': e.error } : {}),
  };
}

/** A process failed: it could not start, a signal ended it, or it exited non-zero. */
export function processFailed(e: Of<'process'>): boolean {
  return e.error !== undefined || e.signal !== undefined || (e.exit_code !== null && e.exit_code !== 0);
}

/** A run's or stage's usage, summed, under factory's names: GenAI's are for the model calls alone, which backends add up. */
function usageTotals(u: Usage): Attributes {
  return {
    'factory.usage.input_tokens': u.input_tokens,
    'factory.usage.output_tokens': u.output_tokens,
    'factory.usage.cache_creation_input_tokens': u.cache_creation_input_tokens,
    'factory.usage.cache_read_input_tokens': u.cache_read_input_tokens,
  };
}
