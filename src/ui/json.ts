import type { CliIO } from '../base/io.js';
import type { EngineEvent } from '../records/events.js';
import type { Renderer } from './renderer.js';

/**
 * `--json`: every event, exactly as the engine emitted it, as one line of JSON on stdout
 * (docs/running.md), so `factory apply --json | jq` works. Nothing else goes to stdout. Tool calls
 * and processes are told for traces only (docs/telemetry.md): not printed, as the journal does
 * not keep them, so `--json` and the journal tell the same events.
 */
export class JsonRenderer implements Renderer {
  constructor(private readonly io: CliIO) {}

  emit(event: EngineEvent): void {
    if (event.type === 'tool_call' || event.type === 'process') return;
    this.io.stdout.write(`${JSON.stringify(event)}\n`);
  }

  async close(): Promise<void> {}
}
