import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ProcessRole, ProcessSpan } from '../records/events.js';
import type { Iteration } from '../records/iteration.js';
import { tell, type RunState } from './state.js';

const NO_ENV: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A program a stage (or the run, for an MCP server) is about to start: when the run is traced it
 * gets a TRACEPARENT naming a span of its own, whose id the `process` event carries so that the
 * trace's span for it has that id (docs/telemetry.md); the event is told when it ends.
 */
export function processSpan(state: RunState, ref: { stage?: string; iteration?: Iteration | undefined }, program: string, role: ProcessRole): ProcessSpan {
  const started = Date.now();
  const traceparent = state.trace ? `00-${state.trace.traceId}-${randomBytes(8).toString('hex')}-${state.trace.flags}` : undefined;
  let ended = false;
  return {
    env: traceparent ? { TRACEPARENT: traceparent } : NO_ENV,
    end(how) {
      if (ended) return;
      ended = true;
      tell(state, {
        type: 'process',
        ...(ref.stage !== undefined ? { stage: ref.stage } : {}),
        ...(ref.iteration !== undefined ? { iteration: ref.iteration } : {}),
        program: path.basename(program),
        role,
        exit_code: how.exitCode ?? null,
        ...(how.signal ? { signal: how.signal } : {}),
        ...(how.error ? { error: how.error } : {}),
        duration_ms: Date.now() - started,
        ...(traceparent ? { traceparent } : {}),
      });
    },
  };
}

/** A span's additions to a program's environment, for SpawnRequest.envAdd; undefined when it has none. */
export function spanEnvAdd(span: ProcessSpan | undefined): Readonly<Record<string, string>> | undefined {
  return !span || span.env === NO_ENV ? undefined : span.env;
}
