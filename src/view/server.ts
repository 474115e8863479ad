import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { packageFile } from '../base/package-root.js';
import { answerQuestion } from '../engine/approvals/answer-question.js';
import { approverName } from '../engine/approvals/approval-identity.js';
import { FollowedRuns } from './followed-runs.js';
import { refusal, type Gate } from './guard.js';
import { LiveChanges } from './live.js';
import type { AnswerBody, RunsPayload } from './model.js';
import { runPayload, runRow } from './run-view.js';
import { stagePayload } from './stage-view.js';

export interface ViewOptions {
  /** The folder holding `.factory`. */
  workspace: string;
  /** 0 (the default): a free port. */
  port?: number;
  /** For tests and benches; a random one otherwise. */
  token?: string;
  /** Who answers a gate from the page (factory approve's `by`). */
  env?: NodeJS.ProcessEnv;
}

export interface ViewServer {
  /** The URL to open, token included. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** A file of the bundled page (scripts/bundle-view.mjs): `/assets/<name>` is `dist/page/<name>`, names of one segment only. */
const ASSET = /^\/assets\/([\w-]+\.(js|css))$/;
const ASSET_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

/** A request body larger than this is not an answer. */
const MAX_BODY = 64 * 1024;

/**
 * `factory view`'s server (docs/view.md): node:http on 127.0.0.1, every request checked by the
 * gate (guard.ts); the page, its assets, JSON built from the records, server-sent events, and
 * the answer to a waiting gate.
 */
export async function startViewServer(opts: ViewOptions): Promise<ViewServer> {
  const token = opts.token ?? randomBytes(18).toString('base64url');
  const runs = new FollowedRuns(opts.workspace);
  const live = new LiveChanges(opts.workspace);
  const gate: Gate = { token, host: '' };
  const server = createServer((req, res) => {
    handle(req, res, { gate, runs, live, opts }).catch((err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  gate.host = `127.0.0.1:${port}`;
  return {
    url: `http://${gate.host}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        live.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Context {
  gate: Gate;
  runs: FollowedRuns;
  live: LiveChanges;
  opts: ViewOptions;
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const refused = refusal(req, url, ctx.gate);
  if (refused !== undefined) return void sendText(res, 403, `factory view: ${refused}\n`);
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (req.method === 'POST') {
    if (parts[0] === 'api' && parts[1] === 'runs' && parts[2] !== undefined && parts[3] === 'answer') return answer(req, res, ctx, parts[2]);
    return void send(res, 404, { error: `no such endpoint: POST ${url.pathname}` });
  }
  if (req.method !== 'GET') return void send(res, 405, { error: `${req.method} is not served` });
  if (url.pathname === '/') return void sendText(res, 200, pageHtml(ctx.gate.token), 'text/html; charset=utf-8', { 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'" });
  const asset = ASSET.exec(url.pathname);
  if (asset) return void sendAsset(res, asset[1]!, ASSET_TYPES[asset[2]!]!);
  if (parts[0] !== 'api') return void send(res, 404, { error: `no such page: ${url.pathname}` });
  if (parts[1] === 'events' && parts.length === 2) return void ctx.live.add(res);
  if (parts[1] === 'runs' && parts.length === 2) return void send(res, 200, runsList(ctx));
  if (parts[1] !== 'runs' || parts[2] === undefined) return void send(res, 404, { error: `no such endpoint: ${url.pathname}` });
  const run = ctx.runs.get(parts[2]);
  if (!run.ok) return void send(res, run.unreadable ? 500 : 404, { error: run.error });
  if (parts.length === 3) return void send(res, 200, runPayload(ctx.opts.workspace, run));
  if (parts[3] === 'stages' && parts[4] !== undefined && parts.length === 5) {
    const it = url.searchParams.get('iteration');
    const stage = stagePayload(run, parts[4], it ?? undefined);
    if (!stage) return void send(res, 404, { error: `run ${run.id} has no stage "${parts[4]}"${it === null ? '' : ` in iteration ${it}`}` });
    return void send(res, 200, stage);
  }
  send(res, 404, { error: `no such endpoint: ${url.pathname}` });
}

function runsList(ctx: Context): RunsPayload {
  const rows: RunsPayload['runs'] = [];
  const unreadable: RunsPayload['unreadable'] = [];
  for (const id of ctx.runs.ids()) {
    const run = ctx.runs.get(id);
    if (run.ok) rows.push(runRow(ctx.opts.workspace, run.record));
    else if (run.unreadable) unreadable.push({ id, error: run.error });
  }
  rows.sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
  return { workspace: ctx.opts.workspace, runs: rows, unreadable };
}

async function answer(req: IncomingMessage, res: ServerResponse, ctx: Context, run: string): Promise<void> {
  const body = await readBody(req);
  const parsed = parseAnswer(body);
  if (typeof parsed === 'string') return void send(res, 400, { ok: false, message: parsed });
  const env = ctx.opts.env ?? process.env;
  const outcome = answerQuestion(ctx.opts.workspace, {
    run,
    stage: parsed.stage,
    ...(parsed.reject === undefined ? {} : { reject: parsed.reject }),
    ...(parsed.choice === undefined ? {} : { choice: parsed.choice }),
    ...(parsed.comment === undefined || parsed.comment === '' ? {} : { comment: parsed.comment }),
    by: approverName(ctx.opts.workspace, env),
    via: 'page',
  });
  if (outcome.ok) return void send(res, 200, { ok: true, message: outcome.text });
  send(res, outcome.why === 'failed' ? 500 : 409, { ok: false, message: outcome.message });
}

function parseAnswer(body: string | undefined): AnswerBody | string {
  if (body === undefined) return 'the answer is too large';
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return 'the answer is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'the answer is not a JSON object';
  const { stage, reject, choice, comment } = v as Record<string, unknown>;
  if (typeof stage !== 'string' || stage === '') return 'the answer names no stage';
  if (reject !== undefined && typeof reject !== 'boolean') return '`reject` is true or false';
  if (choice !== undefined && typeof choice !== 'string') return '`choice` is an option id';
  if (comment !== undefined && typeof comment !== 'string') return '`comment` is text';
  return { stage, ...(reject === undefined ? {} : { reject }), ...(choice === undefined ? {} : { choice }), ...(comment === undefined ? {} : { comment }) };
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function pageHtml(token: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>factory view</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/page.css?token=${token}">
</head><body><div id="app"></div>
<script type="module" src="/assets/page.js?token=${token}"></script>
</body></html>
`;
}

function sendAsset(res: ServerResponse, name: string, type: string): void {
  let text: string;
  try {
    text = readFileSync(packageFile(`dist/page/${name}`), 'utf8');
  } catch {
    return void send(res, 404, { error: `no such asset: ${name}` });
  }
  sendText(res, 200, text, type);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
  res.end(text);
}
