/**
 * A fake OpenAI API on 127.0.0.1 for tests: the real `openai` SDK talks to it over HTTP through
 * `baseURL` (`api.url`, which ends in /v1). It serves `GET /v1/models`, `POST /v1/responses` and
 * `POST /v1/chat/completions`, streaming (SSE) or not, each in that API's own shapes.
 *
 * Replies are scripted as in fake-anthropic.ts, with the same rules and the same Message
 * helpers (textMessage, toolUseMessage, truncatedToolUse): the fake says the Message in the
 * words of the API that was asked — text and tool calls as output items or chat deltas,
 * `stop_reason: max_tokens` as `status: incomplete` or `finish_reason: length`, and the usage
 * with its cache reads counted in the prompt, as OpenAI counts them. So one script serves both
 * APIs. A request no rule answers gets a 500 that says so (with `x-should-retry: false`).
 *
 * Faults: a status (`rateLimited(seconds)`, 5xx), `{ drop: true }` (a stream that sent some
 * text, then broke; a JSON request whose socket is destroyed), `{ stall: true }` (headers, then
 * nothing), `{ streamError }` (an `error` event, or an error chunk, in the middle of a stream).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Match, Message, RecordedRequest, StatusReply, Usage } from './fake-anthropic.js';

export { rateLimited, textMessage, toolUseMessage, truncatedToolUse, type Message, type RecordedRequest } from './fake-anthropic.js';

type Timing = { latencyMs?: number };
export type MessageReply = Message & Timing & { chunkSize?: number; chunkDelayMs?: number };
export type DropReply = Timing & { drop: true };
export type StallReply = Timing & { stall: true };
export type StreamErrorReply = Timing & { streamError: { code: string; message: string } };
export type ReplySpec = MessageReply | StatusReply | DropReply | StallReply | StreamErrorReply;

export interface Rule {
  match?: Match;
  reply: ReplySpec | ((req: RecordedRequest) => ReplySpec);
  times?: number;
}

export interface FakeOpenAIOptions {
  /** Models `GET /v1/models` lists. */
  models?: string[];
  /** When set, a request with another bearer token gets a 401 as the API sends it. */
  apiKey?: string;
  rules?: Rule[];
  /** Answer 404 to `POST /v1/responses`, as a server that offers only Chat Completions. */
  noResponses?: boolean;
}

export interface FakeOpenAI {
  /** The base URL to give the SDK: http://127.0.0.1:PORT/v1. */
  url: string;
  requests: RecordedRequest[];
  script(rules: Rule[]): void;
  close(): Promise<void>;
}

export const DEFAULT_OPENAI_MODELS = ['gpt-5.4', 'gpt-5.4-mini', 'gpt-5.5', 'gpt-4.1-mini'];

let ids = 0;
const nextId = (prefix: string) => `${prefix}_fake${String(++ids).padStart(6, '0')}`;

/** The API's error body for a status. */
export function openaiErrorBody(status: number, text?: string) {
  const types: Record<number, [string, string | null, string]> = {
    400: ['invalid_request_error', null, 'invalid request'],
    401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'],
    404: ['invalid_request_error', 'model_not_found', 'The model does not exist or you do not have access to it.'],
    429: ['rate_limit_error', 'rate_limit_exceeded', 'Rate limit reached.'],
    500: ['server_error', null, 'The server had an error while processing your request.'],
  };
  const [type, code, fallback] = types[status] ?? (status >= 500 ? ['server_error', null, 'server error'] : ['invalid_request_error', null, 'error']);
  return { error: { message: text ?? fallback, type, param: null, code } };
}

/** The request's path without its query. */
export const routeOf = (r: RecordedRequest) => r.path.split('?')[0]!;
/** Model calls only (not `GET /v1/models`). */
export const callsOf = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'POST');

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const rules: { rule: Rule; used: number }[] = (options.rules ?? []).map((rule) => ({ rule, used: 0 }));
  const models = options.models ?? DEFAULT_OPENAI_MODELS;

  const server = createServer((req, res) => {
    res.on('error', () => {});
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, openaiErrorBody(500, `fake-openai crashed: ${String(err)}`), { 'x-should-retry': 'false' });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => socket.on('error', () => {}));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body: raw === '' ? undefined : (JSON.parse(raw) as unknown) };
    requests.push(recorded);
    const auth = recorded.headers.authorization;
    if (options.apiKey !== undefined && auth !== `Bearer ${options.apiKey}`) return sendJson(res, 401, openaiErrorBody(401));
    const route = routeOf(recorded);
    if (req.method === 'GET' && route === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1_767_225_600, owned_by: 'fake' })) });
    }
    const api = route === '/v1/responses' && !options.noResponses ? 'responses' : route === '/v1/chat/completions' ? 'chat' : undefined;
    if (req.method !== 'POST' || api === undefined) return sendJson(res, 404, openaiErrorBody(404, `fake-openai: no route ${req.method} ${route}`));
    const entry = rules.find(({ rule, used }) => (rule.times === undefined || used < rule.times) && matches(rule.match, recorded));
    if (!entry) return sendJson(res, 500, openaiErrorBody(500, `fake-openai: no rule matched POST ${route} ${JSON.stringify(recorded.body).slice(0, 200)}`), { 'x-should-retry': 'false' });
    entry.used++;
    const spec = typeof entry.rule.reply === 'function' ? entry.rule.reply(recorded) : entry.rule.reply;
    await wait(spec.latencyMs);
    const streaming = (recorded.body as { stream?: unknown }).stream === true;
    if (isStatus(spec)) return sendJson(res, spec.status, spec.body ?? openaiErrorBody(spec.status), spec.headers);
    if (isMessage(spec)) {
      if (!streaming) return sendJson(res, 200, api === 'chat' ? chatCompletion(spec) : responseOf(spec));
      return api === 'chat' ? streamChat(spec, res) : streamResponse(spec, res);
    }
    return misbehave(spec, api, streaming, req, res);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
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

// A Message's index signature defeats `in` narrowing: these guards tell the replies apart.
const isStatus = (spec: ReplySpec): spec is StatusReply => typeof (spec as { status?: unknown }).status === 'number';
const isMessage = (spec: ReplySpec): spec is MessageReply => (spec as { type?: unknown }).type === 'message';

function misbehave(spec: DropReply | StallReply | StreamErrorReply, api: 'chat' | 'responses', streaming: boolean, req: IncomingMessage, res: ServerResponse): void {
  if ('drop' in spec && !streaming) return void req.socket.destroy();
  if (!streaming) return sendJson(res, 500, openaiErrorBody(500));
  startSse(res);
  res.flushHeaders();
  if ('stall' in spec) return;
  if ('drop' in spec) {
    if (api === 'chat') writeData(res, chunk('m', { role: 'assistant', content: 'partial ' }, null));
    else writeEvent(res, { type: 'response.output_text.delta', item_id: 'msg_x', output_index: 0, content_index: 0, delta: 'partial ', sequence_number: 1, logprobs: [] });
    setTimeout(() => req.socket.destroy(), 10);
    return;
  }
  if (api === 'chat') writeData(res, { error: { message: spec.streamError.message, type: 'server_error', code: spec.streamError.code, param: null } });
  else writeEvent(res, { type: 'error', code: spec.streamError.code, message: spec.streamError.message, param: null, sequence_number: 1 });
  res.end();
}

function matches(match: Match | undefined, req: RecordedRequest): boolean {
  if (match === undefined) return true;
  if (typeof match === 'function') return match(req);
  const body = (req.body ?? {}) as { model?: unknown; tools?: { name?: unknown; function?: { name?: unknown } }[] };
  if (match.model !== undefined && body.model !== match.model) return false;
  if (match.tool !== undefined && !(body.tools ?? []).some((t) => (t.name ?? t.function?.name) === match.tool)) return false;
  if (match.contains !== undefined && !JSON.stringify(req.body ?? '').includes(match.contains)) return false;
  return true;
}

type Block = Message['content'][number];
const texts = (m: Message) => m.content.filter((b) => b.type === 'text').map((b) => String(b.text ?? ''));
const calls = (m: Message) => m.content.filter((b) => b.type === 'tool_use');
/** A call's arguments as streamed: only the start of them for a call cut off (`partial_json`). */
const argumentsOf = (b: Block) => (typeof b.partial_json === 'string' ? b.partial_json : JSON.stringify(b.input ?? {}));

/** OpenAI counts cache reads and writes inside the prompt. */
function promptOf(u: Usage) {
  const cached = u.cache_read_input_tokens ?? 0;
  const written = u.cache_creation_input_tokens ?? 0;
  return { prompt: u.input_tokens + cached + written, cached, written };
}

function chatUsage(u: Usage) {
  const p = promptOf(u);
  return { prompt_tokens: p.prompt, completion_tokens: u.output_tokens, total_tokens: p.prompt + u.output_tokens, prompt_tokens_details: { cached_tokens: p.cached, cache_write_tokens: p.written } };
}

function finishReason(m: Message): string {
  if (m.stop_reason === 'max_tokens') return 'length';
  if (m.stop_reason === 'refusal') return 'content_filter';
  return calls(m).length > 0 ? 'tool_calls' : 'stop';
}

function chatCompletion(m: Message) {
  const toolCalls = calls(m).map((b) => ({ id: String(b.id), type: 'function', function: { name: String(b.name), arguments: argumentsOf(b) } }));
  return {
    id: m.id.replace(/^msg/, 'chatcmpl'),
    object: 'chat.completion',
    created: 1_767_225_600,
    model: m.model,
    choices: [{ index: 0, message: { role: 'assistant', content: texts(m).join('') || null, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) }, finish_reason: finishReason(m), logprobs: null }],
    usage: chatUsage(m.usage),
  };
}

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, id = 'chatcmpl_stream') {
  return { id, object: 'chat.completion.chunk', created: 1_767_225_600, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] };
}

async function streamChat(m: MessageReply, res: ServerResponse): Promise<void> {
  const size = m.chunkSize ?? 16;
  const id = m.id.replace(/^msg/, 'chatcmpl');
  const send = async (data: unknown) => {
    if (!writeData(res, data)) return false;
    await wait(m.chunkDelayMs);
    return !res.destroyed;
  };
  startSse(res);
  if (!(await send(chunk(m.model, { role: 'assistant', content: '' }, null, id)))) return;
  for (const piece of pieces(texts(m).join(''), size)) if (piece && !(await send(chunk(m.model, { content: piece }, null, id)))) return;
  for (const [index, b] of calls(m).entries()) {
    if (!(await send(chunk(m.model, { tool_calls: [{ index, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] }, null, id)))) return;
    for (const piece of pieces(argumentsOf(b), size)) if (piece && !(await send(chunk(m.model, { tool_calls: [{ index, function: { arguments: piece } }] }, null, id)))) return;
  }
  if (!(await send(chunk(m.model, {}, finishReason(m), id)))) return;
  if (!(await send({ id, object: 'chat.completion.chunk', created: 1_767_225_600, model: m.model, choices: [], usage: chatUsage(m.usage) }))) return;
  res.write('data: [DONE]\n\n');
  res.end();
}

function responseOf(m: Message, status?: 'in_progress') {
  const output: Record<string, unknown>[] = [];
  const text = texts(m).join('');
  if (text !== '') output.push({ type: 'message', id: `${m.id}_out`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] });
  for (const b of calls(m)) output.push({ type: 'function_call', id: `fc_${String(b.id)}`, call_id: b.id, name: b.name, arguments: argumentsOf(b), status: 'completed' });
  const p = promptOf(m.usage);
  const cut = m.stop_reason === 'max_tokens';
  return {
    id: m.id.replace(/^msg/, 'resp'),
    object: 'response',
    created_at: 1_767_225_600,
    model: m.model,
    status: status ?? (cut ? 'incomplete' : 'completed'),
    incomplete_details: cut && !status ? { reason: 'max_output_tokens' } : null,
    error: null,
    output: status ? [] : output,
    usage: status ? null : { input_tokens: p.prompt, input_tokens_details: { cached_tokens: p.cached, cache_write_tokens: p.written }, output_tokens: m.usage.output_tokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: p.prompt + m.usage.output_tokens },
  };
}

async function streamResponse(m: MessageReply, res: ServerResponse): Promise<void> {
  const size = m.chunkSize ?? 16;
  let seq = 0;
  const send = async (data: Record<string, unknown>) => {
    if (!writeEvent(res, { ...data, sequence_number: ++seq })) return false;
    await wait(m.chunkDelayMs);
    return !res.destroyed;
  };
  startSse(res);
  if (!(await send({ type: 'response.created', response: responseOf(m, 'in_progress') }))) return;
  const final = responseOf(m);
  for (const [index, item] of final.output.entries()) {
    if (!(await send({ type: 'response.output_item.added', output_index: index, item: { ...item, ...(item.type === 'message' ? { content: [] } : { arguments: '' }) } }))) return;
    if (item.type === 'message') {
      const text = texts(m).join('');
      for (const piece of pieces(text, size)) if (!(await send({ type: 'response.output_text.delta', item_id: item.id, output_index: index, content_index: 0, delta: piece, logprobs: [] }))) return;
    } else {
      for (const piece of pieces(String(item.arguments), size)) if (!(await send({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index: index, delta: piece }))) return;
    }
    if (!(await send({ type: 'response.output_item.done', output_index: index, item }))) return;
  }
  if (!(await send({ type: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed', response: final }))) return;
  res.end();
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': nextId('req'), 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': nextId('req') });
}

/** A chat chunk: `data:` only, as Chat Completions streams. */
function writeData(res: ServerResponse, data: unknown): boolean {
  if (res.destroyed || res.writableEnded) return false;
  res.write(`data: ${JSON.stringify(data)}\n\n`);
  return true;
}

/** A Responses API event, named in `event:` as the API sends it. */
function writeEvent(res: ServerResponse, data: Record<string, unknown>): boolean {
  if (res.destroyed || res.writableEnded) return false;
  res.write(`event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`);
  return true;
}

const wait = (ms: number | undefined) => (ms ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
