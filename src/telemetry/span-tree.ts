import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { unreachable } from '../base/unreachable.js';
import type { EngineEvent, EventSink } from '../records/events.js';
import type { StageKind } from '../config/pipeline.js';
import { chainOf, type Iteration } from '../records/iteration.js';
import * as attr from './attributes.js';

/** Sets the id of the next span the tracer makes (a process's, which its TRACEPARENT already names). */
export interface SpanIds {
  presetNext(spanId: string): void;
}

type Of<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

/**
 * The run's trace, built from the engine's events as they come (docs/telemetry.md): a span for
 * the run, one for each stage under its scope's (a loop body's under the loop), and under a stage
 * one for each model call, tool call and process. Every span gets the times the events tell.
 */
export class SpanTree implements EventSink {
  readonly #tracer: Tracer;
  readonly #ids: SpanIds;
  readonly #run: Span;
  readonly #runContext: Context;
  /** Open stage spans by path and iteration. */
  readonly #open = new Map<string, Span>();
  /** The latest stage span of each path, open or not: the parent of what comes under it. */
  readonly #latest = new Map<string, Span>();
  readonly #kinds = new Map<string, StageKind>();
  #ended = false;

  constructor(tracer: Tracer, ids: SpanIds, options: { startTime: number; parent?: { traceId: string; spanId: string; flags: string } }) {
    this.#tracer = tracer;
    this.#ids = ids;
    const parent = options.parent
      ? trace.setSpanContext(ROOT_CONTEXT, { traceId: options.parent.traceId, spanId: options.parent.spanId, traceFlags: Number.parseInt(options.parent.flags, 16) & TraceFlags.SAMPLED, isRemote: true })
      : ROOT_CONTEXT;
    this.#run = tracer.startSpan(attr.runName('factory'), { kind: SpanKind.INTERNAL, startTime: options.startTime }, parent);
    this.#runContext = trace.setSpan(ROOT_CONTEXT, this.#run);
  }

  emit(event: EngineEvent): void {
    switch (event.type) {
      case 'run_started':
        this.#run.updateName(attr.runName(event.name));
        this.#run.setAttributes(attr.runStartAttributes(event));
        for (const s of event.stages) this.#kinds.set(s.path, s.kind);
        return;
      case 'stage_started':
        this.#stageSpan(event.stage, event.iteration, Date.parse(event.time)).setAttribute('factory.stage.attempts', event.attempt);
        return;
      case 'stage_finished':
        this.#stageFinished(event);
        return;
      case 'model_call':
        this.#leaf(event, { name: attr.modelCallName(event), kind: SpanKind.CLIENT, durationMs: event.duration_ms ?? 0, attributes: attr.modelCallAttributes(event), error: event.error });
        return;
      case 'tool_call':
        this.#leaf(event, { name: attr.toolCallName(event), kind: SpanKind.INTERNAL, durationMs: event.duration_ms, attributes: attr.toolCallAttributes(event), error: event.error ? 'the tool answered with an error' : undefined });
        return;
      case 'process':
        this.#process(event);
        return;
      case 'budget_warning':
      case 'approval_waiting':
        this.#parentOf(event.stage, event.iteration).addEvent(event.type, { 'factory.stage.path': event.stage }, Date.parse(event.time));
        return;
      case 'run_finished':
        this.#run.setAttributes(attr.runEndAttributes(event));
        if (event.exit_code !== 0) this.#run.setStatus({ code: SpanStatusCode.ERROR, message: `${event.status} (exit code ${event.exit_code})` });
        this.end(Date.parse(event.time));
        return;
      case 'stage_output':
      case 'watch_change':
        return;
      default:
        return unreachable(event, 'event');
    }
  }

  /** Ends what is still open (a run interrupted before its end) and the run; `refused`: why the run could not start. */
  end(time: number, refused?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (refused !== undefined) this.#run.setStatus({ code: SpanStatusCode.ERROR, message: refused });
    for (const span of this.#open.values()) span.end(time);
    this.#open.clear();
    this.#run.end(time);
  }

  #stageSpan(path: string, iteration: Iteration | undefined, start: number): Span {
    const key = stageKey(path, iteration);
    let span = this.#open.get(key);
    if (!span) {
      span = this.#tracer.startSpan(attr.stageName(path), { startTime: start, attributes: attr.stageStartAttributes(path, this.#kinds.get(path), iteration) }, this.#scopeOf(path));
      this.#open.set(key, span);
      this.#latest.set(path, span);
    }
    return span;
  }

  #stageFinished(e: Of<'stage_finished'>): void {
    const end = Date.parse(e.time);
    // A stage that never started (skipped, cached, kept) gets the span of its recorded duration.
    const span = this.#stageSpan(e.stage, e.iteration, end - e.duration_ms);
    span.setAttributes(attr.stageEndAttributes(e));
    if (e.status === 'failed' || e.status === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: e.message ?? e.reason ?? e.status });
    span.end(end);
    this.#open.delete(stageKey(e.stage, e.iteration));
  }

  /** A model or tool call, from its start (its end less its duration) to its end. */
  #leaf(e: { stage: string; iteration?: Iteration; time: string }, s: { name: string; kind: SpanKind; durationMs: number; attributes: Attributes; error: string | undefined }): void {
    const end = Date.parse(e.time);
    const span = this.#tracer.startSpan(s.name, { kind: s.kind, startTime: end - s.durationMs, attributes: s.attributes }, trace.setSpan(ROOT_CONTEXT, this.#parentOf(e.stage, e.iteration)));
    if (s.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
    span.end(end);
  }

  #process(e: Of<'process'>): void {
    const end = Date.parse(e.time);
    const spanId = e.traceparent?.split('-')[2];
    if (spanId !== undefined) this.#ids.presetNext(spanId);
    const parent = e.stage !== undefined ? trace.setSpan(ROOT_CONTEXT, this.#parentOf(e.stage, e.iteration)) : this.#runContext;
    const span = this.#tracer.startSpan(attr.processName(e), { startTime: end - e.duration_ms, attributes: attr.processAttributes(e) }, parent);
    if (attr.processFailed(e)) span.setStatus({ code: SpanStatusCode.ERROR, message: e.error ?? (e.signal !== undefined ? `killed by ${e.signal}` : `exit code ${e.exit_code ?? ''}`) });
    span.end(end);
  }

  /** The span of the stage an event belongs to: its open span, else its latest, else the run's. */
  #parentOf(stage: string | undefined, iteration: Iteration | undefined): Span {
    if (stage === undefined) return this.#run;
    return this.#open.get(stageKey(stage, iteration)) ?? this.#latest.get(stage) ?? this.#run;
  }

  /** A stage's parent: the stage whose scope it is in (a loop, a pipeline, a fan-out's stage), else the run. */
  #scopeOf(path: string): Context {
    for (let p = path; p.includes('.'); ) {
      p = p.slice(0, p.lastIndexOf('.'));
      const span = this.#latest.get(p) ?? this.#latest.get(p.replace(/\[[^\]]*\]$/, ''));
      if (span) return trace.setSpan(ROOT_CONTEXT, span);
    }
    return this.#runContext;
  }
}

function stageKey(path: string, iteration: Iteration | undefined): string {
  const chain = chainOf(iteration);
  return chain.length === 0 ? path : `${path}#${chain.join('.')}`;
}
