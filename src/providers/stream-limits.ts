/**
 * What ended a streamed attempt besides what an SDK throws: the stream went idle (retried like a
 * dropped connection), the answer outgrew what `max_tokens` allows, or a tool call's input was
 * cut off although the API did not say the answer was cut (neither is retried), or the stream
 * ended without its last event (retried like a dropped connection).
 */
export class StreamFault extends Error {
  constructor(
    readonly fault: 'idle' | 'oversize' | 'cut_tool' | 'ended',
    message: string,
  ) {
    super(message);
    this.name = 'StreamFault';
  }
}

/** No deadline: a day, as the SDK needs a number. */
export const NO_DEADLINE_MS = 24 * 3600_000;

/**
 * The most content bytes (text, tool input JSON, thinking) an answer of `maxTokens` may stream:
 * no token is anywhere near 16 bytes on average, and the slack covers signatures and a tiny
 * `max_tokens`. Past it the endpoint is broken, and holding the rest would only exhaust memory.
 */
export function contentCapBytes(maxTokens: number): number {
  return maxTokens * 16 + 64 * 1024;
}

