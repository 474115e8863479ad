import type { CliIO } from '../base/io.js';
import type { EventSink } from '../records/events.js';

/** A renderer subscribes to the engine's events; `close()` flushes and prints what is left. */
export interface Renderer extends EventSink {
  close(): Promise<void>;
}

/** The terminal width of a stream, when it says one. */
export function streamColumns(stream: CliIO['stderr']): number | undefined {
  const columns = (stream as { columns?: unknown }).columns;
  return typeof columns === 'number' && columns > 0 ? columns : undefined;
}
