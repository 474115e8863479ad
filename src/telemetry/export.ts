import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, type IdGenerator, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { EngineEvent, EventSink } from '../records/events.js';
import type { TraceSettings } from './settings.js';
import { SpanTree, type SpanIds } from './span-tree.js';

/**
 * The trace of one run, exported over OTLP/HTTP (docs/telemetry.md). This module is the one
 * that loads the OpenTelemetry SDK; `apply` imports it only when it exports.
 */

/** How long the end of a run waits for the collector, at most: a collector down or slow never holds the run up longer. */
export const FLUSH_WAIT_MS = 1000;

export type TraceOutcome = { ok: true } | { ok: false; url: string; error: string };

export interface TraceExport extends EventSink {
  /** Ends what is open, sends what is left, and says whether everything reached the collector; `refused`: why the run could not start. */
  close(refused?: string): Promise<TraceOutcome>;
}

/** `startTime`: when the run began (ms since the epoch); `version`: factory's, for the resource and the tracer. */
export async function startTrace(settings: TraceSettings, options: { startTime: number; version: string }): Promise<TraceExport> {
  const { startTime, version } = options;
  const ids = new PresetIds(settings.trace.traceId);
  // Only the exporter of the protocol in use is loaded.
  const { OTLPTraceExporter } = settings.protocol === 'http/protobuf' ? await import('@opentelemetry/exporter-trace-otlp-proto') : await import('@opentelemetry/exporter-trace-otlp-http');
  const exporter = new Watched(new OTLPTraceExporter({ url: settings.url, headers: settings.headers, timeoutMillis: FLUSH_WAIT_MS }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...settings.resource, 'service.name': settings.serviceName, 'service.version': version }),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const parent = settings.parentSpanId !== undefined ? { traceId: settings.trace.traceId, spanId: settings.parentSpanId, flags: settings.trace.flags } : undefined;
  const tree = new SpanTree(provider.getTracer('factory', version), ids, { startTime, ...(parent ? { parent } : {}) });
  return {
    emit: (event: EngineEvent) => tree.emit(event),
    async close(refused) {
      tree.end(Date.now(), refused);
      const flushed = await withinWait(provider.forceFlush());
      // What is still in flight is dropped with the process; shutting down must not hold it.
      provider.shutdown().catch(() => undefined);
      const error = exporter.error ?? (flushed ? undefined : `no answer within ${FLUSH_WAIT_MS} ms`);
      return error === undefined ? { ok: true } : { ok: false, url: settings.url, error };
    },
  };
}

/** Whether the promise settled within FLUSH_WAIT_MS; the timer does not keep the process alive. */
function withinWait(work: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), FLUSH_WAIT_MS);
    timer.unref();
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    work.then(settled, settled);
  });
}

/** The run's trace id for its root span, and the span ids that processes' TRACEPARENTs already named. */
export class PresetIds implements IdGenerator, SpanIds {
  readonly #random = new RandomIdGenerator();
  #next: string | undefined;

  constructor(private readonly traceId: string) {}

  presetNext(spanId: string): void {
    this.#next = spanId;
  }

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    const next = this.#next;
    this.#next = undefined;
    return next ?? this.#random.generateSpanId();
  }
}

/** The exporter, keeping the first failure: the processor swallows them. */
class Watched implements SpanExporter {
  error: string | undefined;

  constructor(private readonly inner: SpanExporter) {}

  export(...[spans, done]: Parameters<SpanExporter['export']>): void {
    this.inner.export(spans, (result) => {
      // ExportResultCode.SUCCESS is 0 (its enum is @opentelemetry/core's, which factory does not depend on itself).
      if ((result.code as number) !== 0) this.error ??= result.error?.message ?? 'the export failed';
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
