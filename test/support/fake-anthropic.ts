/**
 * A fake Anthropic Messages API on 127.0.0.1 for tests: the real SDK talks to it over HTTP
 * through `baseURL`. Replies are scripted by rules matched against what each request contains;
 * a request no rule answers gets a 500 that says so (with `x-should-retry: false`), so a test
 * fails loudly and at once.
 *
 *   const api = await startFakeAnthropic();
 *   api.script([{ reply: { status: 429, headers: { 'retry-after': '0' } }, times: 1 }, { reply: textMessage('hi') }]);
 *   ... new Anthropic({ baseURL: api.url, apiKey: 'sk-ant-test' }) ...
 *   expect(api.requests).toHaveLength(2);
 *   await api.close();
 *
 * Faults, for deadlines and accounting: `{ stall: true }` (headers, then nothing), with `pingEveryMs`
 * (pings only, until the client goes) and `start` (a `message_start` reporting that usage first);
 * `{ drop: true, usage }` (a stream that reported its input tokens, then broke);
 * `truncatedToolUse(...)` (a tool call cut mid-input, stop_reason max_tokens); a status with
 * `retry-after` headers (`rateLimited(seconds)`). `POST /v1/messages/count_tokens` answers
 * `countTokensOf(body)` unless `countTokens` says otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

export type ContentBlock = { type: string; [key: string]: unknown };

/** A Messages API Message, as the API returns it. */
export interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: Usage;
  [key: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /v1/messages or /v1/models/claude-sonnet-5-5. */
  path: string;
  /** Lower-case header names as Node gives them, the API key's included. */
  headers: Record<string, string | string[] | undefined>;
  /** The JSON body parsed; the raw text when it is not JSON; undefined when empty. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read any field of the request body they sent, without a cast each
  body: any;
}

interface Timing {
  /** Wait before the response starts. */
  latencyMs?: number;
}

/** Answer with this message: JSON, or SSE when the request has `stream: true`. */
export type MessageReply = Message &
  Timing & {
    /** Streaming: wait between SSE events (to abort mid-stream). */
    chunkDelayMs?: number;
    /** Streaming: characters per text_delta / input_json_delta (default 16). */
    chunkSize?: number;
  };
export type StatusReply = Timing & { status: number; body?: unknown; headers?: Record<string, string> };
/**
 * Destroy the socket: before any byte for JSON; for a stream, after `message_start` (reporting
 * `usage`, input tokens 10 when left out) and the text `partial `.
 */
export type DropReply = Timing & { drop: true; usage?: Partial<Usage> };
/**
 * Streaming: send the response headers, then nothing until the client goes (`pingEveryMs`:
 * `ping` events only, at that interval; `start`: first a `message_start` reporting this usage).
 */
export type StallReply = Timing & { stall: true; pingEveryMs?: number; start?: Partial<Usage> };
/** Streaming: start the message, then send an SSE `error` event (e.g. overloaded_error). */
export type StreamErrorReply = Timing & { streamError: { type: string; message: string } };
export type ReplySpec = MessageReply | StatusReply | DropReply | StreamErrorReply | StallReply;

export type Match = ((req: RecordedRequest) => boolean) | { contains?: string; model?: string; tool?: string };

export interface Rule {
  match?: Match;
  reply: ReplySpec | ((req: RecordedRequest) => ReplySpec);
  /** Answer this many requests, then step aside; unlimited when left out. */
  times?: number;
}

export interface FakeAnthropicOptions {
  /** Models `GET /v1/models/{id}` knows; others get a 404. */
  models?: string[];
  /** When set, a request with another key (`x-api-key` or `Authorization: Bearer`) gets a 401 as the API sends it. */
  apiKey?: string;
  rules?: Rule[];
  /**
   * `POST /v1/messages/count_tokens`: the count for a request body (default `countTokensOf`), or
   * false for an endpoint without the route (404).
   */
  countTokens?: ((body: unknown) => number) | false;
}

export interface FakeAnthropic {
  /** The base URL to give the SDK, e.g. http://127.0.0.1:43123. */
  url: string;
  /** Every request received, in order (retries included). */
  requests: RecordedRequest[];
  /** Adds rules after those already scripted; the first rule that matches and has uses left answers. */
  script(rules: Rule[]): void;
  close(): Promise<void>;
}

export const DEFAULT_MODELS = ['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5', 'claude-haiku-4-5', 'claude-sonnet-4-5'];

let ids = 0;
const nextId = (prefix: string) => `${prefix}_fake${String(++ids).padStart(6, '0')}`;

const DEFAULT_USAGE: Usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

function message(content: ContentBlock[], stopReason: string, usage: Partial<Usage> | undefined, model: string): Message {
  return {
    id: nextId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { ...DEFAULT_USAGE, ...usage },
  };
}

/** A message with one text block (stop_reason end_turn). */
export function textMessage(text: string, usage?: Partial<Usage>, model = 'claude-sonnet-5-5'): Message {
  return message([{ type: 'text', text }], 'end_turn', usage, model);
}

/** A message that calls tools (stop_reason tool_use), optionally after some text. */
export function toolUseMessage(
  calls: { name: string; input: Record<string, unknown>; id?: string }[],
  usage?: Partial<Usage>,
  options: { text?: string; model?: string } = {},
): Message {
  const blocks: ContentBlock[] = options.text ? [{ type: 'text', text: options.text }] : [];
  for (const c of calls) blocks.push({ type: 'tool_use', id: c.id ?? nextId('toolu'), name: c.name, input: c.input });
  return message(blocks, 'tool_use', usage, options.model ?? 'claude-sonnet-5-5');
}

/**
 * A message cut off by max_tokens inside a tool call: the tool_use block streams only the first
 * `keep` characters of its input's JSON (default: half), then the message ends with
 * `stopReason` (default max_tokens; anything else is a server misbehaving).
 */
export function truncatedToolUse(
  call: { name: string; input: Record<string, unknown>; id?: string },
  options: { keep?: number; text?: string; usage?: Partial<Usage>; stopReason?: string } = {},
): Message {
  const json = JSON.stringify(call.input);
  const m = toolUseMessage([call], options.usage, options.text === undefined ? {} : { text: options.text });
  const block = m.content.at(-1)!;
  block.partial_json = json.slice(0, options.keep ?? Math.floor(json.length / 2));
  m.stop_reason = options.stopReason ?? 'max_tokens';
  return m;
}

/** A 429 asking to wait `seconds` (in `retry-after`). */
export function rateLimited(seconds: number): StatusReply {
  return { status: 429, headers: { 'retry-after': String(seconds) } };
}

/**
 * The fake's token count for `POST /v1/messages/count_tokens`: the UTF-8 bytes of the request
 * body's JSON (as the fake received it, parsed and written again) divided by 3, rounded up.
 * Deterministic, and like a real count it grows with the prompt and is higher per character
 * for CJK text than for English.
 */
export function countTokensOf(body: unknown): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(body ?? {}), 'utf8') / 3);
}

/** The API's error body for a status. */
export function errorBody(status: number, text?: string): { type: 'error'; error: { type: string; message: string } } {
  const types: Record<number, [string, string]> = {
    400: ['invalid_request_error', 'invalid request'],
    401: ['authentication_error', 'invalid x-api-key'],
    403: ['permission_error', 'your API key does not have permission to use the specified resource'],
    404: ['not_found_error', 'not found'],
    413: ['request_too_large', 'request exceeds the maximum allowed number of bytes'],
    429: ['rate_limit_error', 'rate limit exceeded'],
    500: ['api_error', 'internal server error'],
    529: ['overloaded_error', 'overloaded'],
  };
  const [type, fallback] = types[status] ?? (status >= 500 ? ['api_error', 'internal server error'] : ['invalid_request_error', 'error']);
  return { type: 'error', error: { type, message: text ?? fallback } };
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const rules: { rule: Rule; used: number }[] = (options.rules ?? []).map((rule) => ({ rule, used: 0 }));
  const models = new Set(options.models ?? DEFAULT_MODELS);

  const server = createServer((req, res) => {
    // A client that goes away mid-answer (an aborted stream) is not the fake's failure.
    res.on('error', () => {});
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(500, `fake-anthropic crashed: ${String(err)}`), { 'x-should-retry': 'false' });
      else res.destroy();
    });
  });

  // The socket's errors too, once per connection (a kept-alive socket serves many requests).
  server.on('connection', (socket) => socket.on('error', () => {}));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown = undefined;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body };
    requests.push(recorded);

    if (options.apiKey !== undefined && apiKeyOf(recorded) !== options.apiKey) {
      return sendJson(res, 401, errorBody(401));
    }
    const modelPath = /^\/v1\/models\/([^/?]+)/.exec(recorded.path);
    if (req.method === 'GET' && modelPath) {
      const id = decodeURIComponent(modelPath[1]!);
      if (!models.has(id)) return sendJson(res, 404, errorBody(404, `model: ${id}`));
      return sendJson(res, 200, modelInfo(id));
    }
    if (req.method === 'POST' && recorded.path.split('?')[0] === '/v1/messages/count_tokens') {
      if (options.countTokens === false) return sendJson(res, 404, errorBody(404, `fake-anthropic: no route ${req.method} ${recorded.path}`));
      return sendJson(res, 200, { input_tokens: (options.countTokens ?? countTokensOf)(body) });
    }
    if (req.method === 'POST' && recorded.path.startsWith('/v1/messages')) {
      const entry = rules.find(({ rule, used }) => (rule.times === undefined || used < rule.times) && matches(rule.match, recorded));
      if (!entry) {
        return sendJson(res, 500, errorBody(500, `fake-anthropic: no rule matched POST ${recorded.path} ${describe(recorded)}`), { 'x-should-retry': 'false' });
      }
      entry.used++;
      const spec = typeof entry.rule.reply === 'function' ? entry.rule.reply(recorded) : entry.rule.reply;
      return reply(spec, recorded, req, res);
    }
    return sendJson(res, 404, errorBody(404, `fake-anthropic: no route ${req.method} ${recorded.path}`));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(more) {
      for (const rule of more) rules.push({ rule, used: 0 });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The key a request carried: `x-api-key`, or the token of `Authorization: Bearer` (how SDK 1.x sends it). */
export function apiKeyOf(req: RecordedRequest): string | undefined {
  const direct = req.headers['x-api-key'];
  if (typeof direct === 'string') return direct;
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function matches(match: Match | undefined, req: RecordedRequest): boolean {
  if (match === undefined) return true;
  if (typeof match === 'function') return match(req);
  const body = (req.body ?? {}) as { model?: unknown; tools?: { name?: unknown }[] };
  if (match.model !== undefined && body.model !== match.model) return false;
  if (match.tool !== undefined && !(body.tools ?? []).some((t) => t.name === match.tool)) return false;
  if (match.contains !== undefined && !JSON.stringify(req.body ?? '').includes(match.contains)) return false;
  return true;
}

/** Model and last user text, so "no rule matched" says which request it was. */
function describe(req: RecordedRequest): string {
  const body = (req.body ?? {}) as { model?: unknown; messages?: { role: string; content: unknown }[] };
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  const text = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
  return `(model ${String(body.model)}, last user message ${JSON.stringify(text.slice(0, 120))})`;
}

function modelInfo(id: string) {
  return {
    type: 'model',
    id,
    display_name: id,
    created_at: '2026-01-01T00:00:00Z',
    capabilities: null,
    deprecated_at: null,
    lifecycle: 'active',
    line: null,
    max_input_tokens: 1_000_000,
    max_tokens: 128_000,
    retires_at: null,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': nextId('req'), 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const wait = (ms: number | undefined) => (ms ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

const isMessage = (spec: ReplySpec): spec is MessageReply => (spec as { type?: unknown }).type === 'message';

async function reply(spec: ReplySpec, recorded: RecordedRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await wait(spec.latencyMs);
  const streaming = (recorded.body as { stream?: unknown } | undefined)?.stream === true;
  if (!isMessage(spec)) return misbehave(spec as StatusReply | DropReply | StreamErrorReply | StallReply, streaming, req, res);
  const { latencyMs: _latency, chunkDelayMs, chunkSize, ...out } = spec;
  if (!streaming) return sendJson(res, 200, { ...out, content: out.content.map(({ partial_json: _cut, ...block }) => block) });
  await streamMessage(out, res, chunkDelayMs ?? 0, chunkSize ?? 16);
}

/** Error statuses, dropped connections, stalls and errors in the middle of a stream. */
function misbehave(spec: StatusReply | DropReply | StreamErrorReply | StallReply, streaming: boolean, req: IncomingMessage, res: ServerResponse): void {
  if ('status' in spec) return sendJson(res, spec.status, spec.body ?? errorBody(spec.status), spec.headers);
  if ('stall' in spec) return stall(spec, res);
  const started = startedMessage(textMessage('', 'usage' in spec ? spec.usage : undefined));
  if ('drop' in spec) {
    if (!streaming) return void req.socket.destroy();
    startSse(res);
    writeEvent(res, 'message_start', { type: 'message_start', message: started });
    writeEvent(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } });
    writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial ' } });
    setTimeout(() => req.socket.destroy(), 10);
    return;
  }
  if (!streaming) return sendJson(res, 500, { type: 'error', error: spec.streamError });
  startSse(res);
  writeEvent(res, 'message_start', { type: 'message_start', message: started });
  writeEvent(res, 'error', { type: 'error', error: spec.streamError });
  res.end();
}

/** Headers, perhaps a message_start and pings, and then nothing more until the client goes. */
function stall(spec: StallReply, res: ServerResponse): void {
  startSse(res);
  res.flushHeaders();
  if (spec.start) writeEvent(res, 'message_start', { type: 'message_start', message: startedMessage(textMessage('', spec.start)) });
  if (spec.pingEveryMs === undefined) return;
  const timer = setInterval(() => {
    if (!writeEvent(res, 'ping', { type: 'ping' })) clearInterval(timer);
  }, spec.pingEveryMs);
  res.on('close', () => clearInterval(timer));
}

function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': nextId('req') });
}

function writeEvent(res: ServerResponse, event: string, data: unknown): boolean {
  if (res.destroyed || res.writableEnded) return false;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  return true;
}

function startedMessage(m: Message): Message {
  return {
    ...m,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: m.usage.input_tokens,
      output_tokens: 1,
      cache_creation_input_tokens: m.usage.cache_creation_input_tokens ?? null,
      cache_read_input_tokens: m.usage.cache_read_input_tokens ?? null,
    },
  };
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

/** The event sequence of the streaming Messages API, which the SDK's MessageStream accumulates. */
async function streamMessage(m: Message, res: ServerResponse, delayMs: number, size: number): Promise<void> {
  startSse(res);
  const send = async (event: string, data: unknown) => {
    if (!writeEvent(res, event, data)) return false;
    await wait(delayMs);
    return !res.destroyed;
  };
  if (!(await send('message_start', { type: 'message_start', message: startedMessage(m) }))) return;
  if (!(await send('ping', { type: 'ping' }))) return;
  for (const [index, block] of m.content.entries()) {
    if (block.type === 'text') {
      if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } }))) return;
      for (const piece of chunks(String(block.text ?? ''), size)) {
        if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }))) return;
      }
    } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      // A block cut off by max_tokens streams only `partial_json`, the start of its input.
      const json = typeof block.partial_json === 'string' ? block.partial_json : JSON.stringify(block.input ?? {});
      const { partial_json: _cut, ...shown } = block;
      if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: { ...shown, input: {} } }))) return;
      for (const piece of json === '' ? [] : chunks(json, size)) {
        if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }))) return;
      }
    } else if (block.type === 'thinking') {
      if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }))) return;
      for (const piece of chunks(String(block.thinking ?? ''), size)) {
        if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }))) return;
      }
      if (!(await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: String(block.signature ?? '') } }))) return;
    } else {
      if (!(await send('content_block_start', { type: 'content_block_start', index, content_block: block }))) return;
    }
    if (!(await send('content_block_stop', { type: 'content_block_stop', index }))) return;
  }
  const delta = { stop_reason: m.stop_reason, stop_sequence: m.stop_sequence, container: null, stop_details: null };
  const usage = {
    output_tokens: m.usage.output_tokens,
    input_tokens: m.usage.input_tokens,
    cache_creation_input_tokens: m.usage.cache_creation_input_tokens ?? null,
    cache_read_input_tokens: m.usage.cache_read_input_tokens ?? null,
  };
  if (!(await send('message_delta', { type: 'message_delta', delta, usage }))) return;
  if (!(await send('message_stop', { type: 'message_stop' }))) return;
  res.end();
}
