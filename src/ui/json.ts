import type { CliIO } from '../base/io.js';
import type { EngineEvent } from '../records/events.js';
import type { Renderer } from './renderer.js';

/**
 * `--json`: every event, exactly as the engine emitted it, as one line of JSON on stdout
 * (docs/running.md), so `factory apply --json | jq` works. Nothing else goes to stdout.
 */
export class JsonRenderer implements Renderer {
  constructor(private readonly io: CliIO) {}

  emit(event: EngineEvent): void {
    this.io.stdout.write(`${JSON.stringify(event)}\n`);
  }

  async close(): Promise<void> {}
}
