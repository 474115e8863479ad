import type Anthropic from '@anthropic-ai/sdk';
import type { MessageStreamEvent, MessageStreamParams } from '@anthropic-ai/sdk/resources/messages/messages';
import { usageOf, type ModelResponse } from '../types.js';
import { estimateOutputTokens, UsageMeter } from '../usage-meter.js';
import type { Usage } from '../../base/usage.js';
import { contentCapBytes, NO_DEADLINE_MS, StreamFault } from '../stream-limits.js';

export { contentCapBytes, NO_DEADLINE_MS, StreamFault } from '../stream-limits.js';

export interface AttemptOptions {
  signal: AbortSignal;
  /** Until the response starts (the SDK's own timeout, which covers the fetch up to the headers); 0: none. */
  requestTimeoutMs: number;
  /** Longest time without a content event once the response started (`ping` does not count); 0: none. */
  idleTimeoutMs: number;
  onText?: ((chunk: string) => void) | undefined;
  onUsage?: ((increment: Usage) => void) | undefined;
}

/** UTF-8 size of the content a delta adds. */
function deltaBytes(event: Extract<MessageStreamEvent, { type: 'content_block_delta' }>): number {
  const d = event.delta;
  const text = d.type === 'text_delta' ? d.text : d.type === 'input_json_delta' ? d.partial_json : d.type === 'thinking_delta' ? d.thinking : d.type === 'signature_delta' ? d.signature : '';
  return Buffer.byteLength(text, 'utf8');
}

/** Whether a tool call's accumulated input is whole JSON ('' is how the API sends an empty input). */
function completeJson(text: string): boolean {
  if (text.trim() === '') return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * One streamed Messages API request through the SDK's MessageStream, with the two deadlines,
 * usage reported as it comes (`message_start`, the end, or what a failed attempt had reported plus
 * an estimate of the output it streamed), a cap on the content held in memory, and tool calls
 * whose input JSON was cut off detected (the SDK's partial-JSON parser would hand them back
 * looking whole). Resolves with the message as plain data; throws what ended the attempt.
 */
export async function streamAttempt(sdk: Anthropic, body: MessageStreamParams, options: AttemptOptions): Promise<ModelResponse> {
  const meter = new UsageMeter(options.onUsage);
  const cap = contentCapBytes(body.max_tokens);
  const stream = sdk.messages.stream(body, { signal: options.signal, timeout: options.requestTimeoutMs > 0 ? options.requestTimeoutMs : NO_DEADLINE_MS });
  let fault: StreamFault | undefined;
  const fail = (f: StreamFault) => {
    if (fault) return;
    fault = f;
    stream.abort();
  };

  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    if (options.idleTimeoutMs <= 0 || fault) return;
    clearTimeout(idle);
    idle = setTimeout(() => fail(new StreamFault('idle', 'the stream went idle')), options.idleTimeoutMs);
  };
  // The request deadline ends at the headers (the SDK's timeout); the idle deadline starts there.
  stream.on('connect', arm);

  let bytes = 0;
  /** Each tool call still streaming, by content index: its name and input JSON so far. */
  const tools = new Map<number, { name: string; json: string }>();
  const cut: string[] = [];
  // The SDK drops `ping` events before they get here, so pings never hold the idle deadline off.
  stream.on('streamEvent', (event) => {
    arm();
    switch (event.type) {
      case 'message_start':
        meter.report(usageOf(event.message));
        break;
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'tool_use' || block.type === 'server_tool_use') tools.set(event.index, { name: block.name, json: '' });
        break;
      }
      case 'content_block_delta': {
        bytes += deltaBytes(event);
        if (bytes > cap) {
          fail(new StreamFault('oversize', `the Anthropic API streamed more than max_tokens ${body.max_tokens} allows (over ${cap} bytes of content), so the answer was stopped`));
          break;
        }
        const tool = tools.get(event.index);
        if (tool && event.delta.type === 'input_json_delta') tool.json += event.delta.partial_json;
        break;
      }
      case 'content_block_stop': {
        const tool = tools.get(event.index);
        if (!tool) break;
        tools.delete(event.index);
        if (!completeJson(tool.json)) cut.push(tool.name);
        break;
      }
      case 'message_delta':
      case 'message_stop':
        break;
    }
  });
  if (options.onText) {
    const onText = options.onText;
    stream.on('text', (delta) => onText(delta));
  }

  try {
    const message = await stream.finalMessage();
    // A tool call that never got its content_block_stop was cut off too.
    for (const tool of tools.values()) cut.push(tool.name);
    meter.report(usageOf(message));
    if (cut.length > 0 && message.stop_reason !== 'max_tokens') {
      throw new StreamFault('cut_tool', `the Anthropic API ended the tool call ${cut.join(', ')} before its input was complete JSON, with stop_reason ${String(message.stop_reason)} instead of max_tokens`);
    }
    return plain(message);
  } catch (error) {
    // Paid for but not answered: what message_start reported, and the output streamed so far.
    if (meter.started) meter.report({ ...meter.reported, output_tokens: Math.max(meter.reported.output_tokens, estimateOutputTokens(bytes, body.max_tokens)) });
    throw fault ?? error;
  } finally {
    clearTimeout(idle);
  }
}

/**
 * The SDK's accumulated message as plain data: each block copied (a tool call's lazy `input`
 * getter read once, its hidden JSON buffer left behind), without the SDK's `parsed_output`. No
 * JSON round trip: that held two more copies of a long answer at once.
 */
function plain(message: ModelResponse): ModelResponse {
  const { parsed_output: _parsed, ...rest } = message as ModelResponse & { parsed_output?: unknown };
  return { ...rest, usage: { ...message.usage }, content: message.content.map((block) => ({ ...block })) };
}
