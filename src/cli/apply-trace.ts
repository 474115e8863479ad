import type { CliIO } from '../base/io.js';
import type { EventSink, TraceContext } from '../records/events.js';
import { traceSettings } from '../telemetry/settings.js';
import { VERSION } from './version.js';

type Telemetry = typeof import('../telemetry/export.js');

/** One run's trace: the sink that feeds it beside the renderer, the context for the engine's processes, and its end. */
export interface RunTrace {
  sink: EventSink;
  trace?: TraceContext;
  /** Sends what is left (a bounded wait) and prints the one warning when the collector did not take it; `refused`: why the run could not start. */
  end(refused?: string): Promise<void>;
}

/**
 * `apply`'s OpenTelemetry export (docs/telemetry.md), when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
 * is set or `--otel` is given. The SDK is imported only then, and early, while the engine loads;
 * a run without it never loads it (its start-up time is unchanged).
 */
export class ApplyTrace {
  readonly #telemetry: Promise<Telemetry> | undefined;

  constructor(
    private readonly io: CliIO,
    private readonly flag: boolean,
  ) {
    if (traceSettings(io.env, flag)) {
      this.#telemetry = import('../telemetry/export.js');
      // Awaited in start(); a failure to load is told there.
      this.#telemetry.catch(() => undefined);
    }
  }

  /** Starts the trace of a run about to begin (each run of `--watch` gets its own). */
  async start(renderer: EventSink): Promise<RunTrace> {
    const settings = traceSettings(this.io.env, this.flag);
    if (!settings || !this.#telemetry) return { sink: renderer, end: () => Promise.resolve() };
    const startTime = Date.now();
    const { startTrace } = await this.#telemetry;
    const exporting = await startTrace(settings, { startTime, version: VERSION });
    if (settings.unsupportedProtocol !== undefined) {
      this.io.stderr.write(`factory apply: warning: OTEL_EXPORTER_OTLP_PROTOCOL=${settings.unsupportedProtocol} is not supported; the trace is sent over http/json\n`);
    }
    return {
      sink: {
        emit(event) {
          renderer.emit(event);
          exporting.emit(event);
        },
      },
      trace: settings.trace,
      end: async (refused) => {
        const outcome = await exporting.close(refused);
        if (!outcome.ok) this.io.stderr.write(`factory apply: warning: the run's trace could not be exported to ${outcome.url}: ${outcome.error} (the run itself is not affected)\n`);
      },
    };
  }
}
