import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { MCPServer } from '../../config/generated/factory.js';
import type { ProcessSpan, StartProcess } from '../../records/events.js';
import { durationMs } from '../../config/units.js';
import { describeMcpError } from './mcp-errors.js';
import { readFileSync } from 'node:fs';
import { packageFile } from '../../base/package-root.js';

/** How long a server may take to start and answer `initialize` and `tools/list` (`startup_timeout`). */
export const DEFAULT_MCP_STARTUP_TIMEOUT_MS = 30_000;
/** How long one tool call may take (`call_timeout`). */
export const DEFAULT_MCP_CALL_TIMEOUT_MS = 120_000;
/** How long a call that failed because its server died waits for the rest of the server's stderr. */
const STDERR_WAIT_MS = 500;
/** Characters of a server's stderr kept for messages (the whole of it is in its log file). */
const STDERR_TAIL = 1500;

/** factory's version, for `initialize`'s clientInfo. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0';
  }
}

/** One tool of a server, as the server lists it. */
export interface McpToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export type McpStart = { ok: true; tools: McpToolInfo[] } | { ok: false; message: string };

/** A tool call's end, in the words the model and the record get. */
export type McpCallResult = { ok: true; result: unknown } | { ok: false; message: string };

export interface McpServersOptions {
  /** `mcp_servers` of the pipeline. */
  servers: Readonly<Record<string, MCPServer | undefined>>;
  /** The folder of factory.yaml: a server's `cwd` is relative to it, and it is the default. */
  dir: string;
  /** Where each stdio server's stderr is written: `<logDir>/<name>.stderr.log`. */
  logDir: string;
  /** The environment `${VAR}` in a server's `env` and `headers` reads; default process.env. */
  env?: Readonly<NodeJS.ProcessEnv>;
  /** Applied to a server's stderr before it is written or quoted (secrets out of the record). */
  redact?: (text: string) => string;
  /** The client's name and version in `initialize`. */
  client?: { name: string; version: string };
  /** Tells the run about each server process: its TRACEPARENT, and when it ended (docs/telemetry.md). */
  startProcess?: StartProcess;
}

interface Running {
  client: Client;
  transport: Transport;
  tools: McpToolInfo[];
  /** Set when the connection closed (the process exited): why. */
  gone?: string;
  stderr: StderrLog;
  /** A stdio server's process. */
  pid?: number;
  /** Its span in the run's trace (a stdio server's). */
  span?: ProcessSpan;
}

/** How long a server has to exit once its stdin is closed, before it is killed. */
const GRACE_MS = 1000;

/**
 * Closes the connection (a stdio server's stdin ends), then makes sure the process is gone:
 * the SDK's own close gives up waiting and lets a server that ignores SIGTERM live on.
 */
async function stop(running: Running): Promise<void> {
  await running.client.close().catch(() => undefined);
  const pid = running.pid;
  if (pid !== undefined && !(await exited(pid, GRACE_MS))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited(pid, GRACE_MS);
  }
  // What the server wrote before it went is still in the pipe: into the log before it closes.
  if (pid !== undefined) await running.stderr.drained(STDERR_WAIT_MS);
  await running.stderr.close();
  endSpan(running);
}

/** Tells the run the server's process ended, once (its connection closing, or the stop). The exit code is the SDK's to see, not ours. */
function endSpan(running: Running): void {
  running.span?.end({});
  delete running.span;
}

/** Whether the process is gone within `ms`. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The MCP servers of one run. A server starts when a stage first asks for its tools (once, for
 * every stage that shares it) and stops when `close()` is called at the end of the run, or on
 * Ctrl-C: close() also ends a start still waiting for `initialize`, so nothing is left running.
 */
export class McpServers {
  readonly #options: McpServersOptions;
  readonly #started = new Map<string, Promise<Running | string>>();
  /** Aborts every start in flight when the run ends. */
  readonly #ending = new AbortController();

  constructor(options: McpServersOptions) {
    this.#options = options;
  }

  names(): string[] {
    return Object.keys(this.#options.servers);
  }

  /** Starts the server if it is not running yet and lists its tools; never throws. */
  async start(name: string, signal: AbortSignal, restarted = false): Promise<McpStart> {
    const config = this.#options.servers[name];
    if (!config) return { ok: false, message: `there is no MCP server "${name}" in mcp_servers` };
    if (this.#ending.signal.aborted) return { ok: false, message: `MCP server "${name}" was not started: the run is ending` };
    let pending = this.#started.get(name);
    if (!pending) {
      pending = this.#launch(name, config);
      this.#started.set(name, pending);
    }
    const got = await untilAborted(pending, signal);
    if (got === undefined) return { ok: false, message: `MCP server "${name}" was still starting when the stage was cancelled` };
    if (typeof got === 'string') {
      // A stage retried later starts the server afresh.
      if (this.#started.get(name) === pending) this.#started.delete(name);
      return { ok: false, message: got };
    }
    if (got.gone && restarted) return { ok: false, message: `MCP server "${name}" exited as soon as it started: ${got.gone}${got.stderr.tailText()}` };
    if (got.gone) {
      // A server that died during an earlier stage is started afresh for this one.
      if (this.#started.get(name) === pending) this.#started.delete(name);
      await stop(got);
      if (!this.#started.has(name)) this.#started.set(name, this.#launch(name, config));
      return this.start(name, signal, true);
    }
    return { ok: true, tools: got.tools };
  }

  /** Calls a tool of a started server; a failure of any kind comes back as a message, never thrown. */
  async call(name: string, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<McpCallResult> {
    const pending = this.#started.get(name);
    const running = pending ? await pending : undefined;
    if (!running || typeof running === 'string') return { ok: false, message: `MCP server "${name}" is not running` };
    if (running.gone) return { ok: false, message: `MCP server "${name}" is not running: ${running.gone}${running.stderr.tailText()}` };
    const timeout = this.#timeout(name, 'call_timeout', DEFAULT_MCP_CALL_TIMEOUT_MS);
    try {
      const result = await running.client.callTool({ name: tool, arguments: args }, undefined, { timeout, signal });
      return { ok: true, result };
    } catch (err) {
      // A server that died: its last words on stderr may still be in the pipe.
      if (running.gone) await running.stderr.drained(STDERR_WAIT_MS);
      const why = running.gone ? `the server exited during the call (${running.gone})` : describeMcpError(err, timeout);
      return { ok: false, message: `MCP server "${name}", tool "${tool}": ${why}${running.gone ? running.stderr.tailText() : ''}` };
    }
  }

  /** Stops every server (and every start in flight); waits until they are gone. */
  async close(): Promise<void> {
    this.#ending.abort();
    const all = [...this.#started.values()];
    this.#started.clear();
    await Promise.all(
      all.map(async (pending) => {
        const running = await pending;
        if (typeof running !== 'string') await stop(running);
      }),
    );
  }

  #timeout(name: string, key: 'startup_timeout' | 'call_timeout', fallback: number): number {
    const text = this.#options.servers[name]?.[key];
    return (text !== undefined ? durationMs(text) : undefined) ?? fallback;
  }

  /** Connects (spawning a stdio server), then lists the tools; the message of a failure names the server. */
  async #launch(name: string, config: MCPServer): Promise<Running | string> {
    const stderr = new StderrLog(path.join(this.#options.logDir, `${name}.stderr.log`), this.#options.redact ?? ((t) => t));
    const sdk = await mcpSdk();
    const made = this.#transport(sdk, config, stderr);
    const client = new sdk.Client(this.#options.client ?? { name: 'factory', version: packageVersion() });
    const running: Running = { client, transport: made.transport, tools: [], stderr, ...(made.span ? { span: made.span } : {}) };
    client.onclose = () => {
      running.gone ??= 'its connection closed (the process exited)';
      endSpan(running);
    };
    const timeout = this.#timeout(name, 'startup_timeout', DEFAULT_MCP_STARTUP_TIMEOUT_MS);
    const options = { timeout, signal: this.#ending.signal };
    try {
      const connecting = client.connect(made.transport, options);
      // The process is spawned synchronously inside connect(): its pid, to make sure it ends.
      if (made.transport instanceof sdk.StdioClientTransport) running.pid = made.transport.pid ?? undefined;
      await connecting;
      running.tools = await listAllTools(client, options);
      return running;
    } catch (err) {
      // The process, however far the start got, so that stop() is sure to end it.
      if (made.transport instanceof sdk.StdioClientTransport) running.pid ??= made.transport.pid ?? undefined;
      const why = made.what === 'command' && running.gone ? 'exited before it answered `initialize`' : describeStartError(err, config, timeout);
      await stop(running);
      const fix = made.what === 'command' ? ` (its stderr: ${stderr.file})` : '';
      return `MCP server "${name}" could not be started: ${why}${stderr.tailText()}${fix}`;
    }
  }

  #transport(sdk: McpSdk, config: MCPServer, stderr: StderrLog): { transport: Transport; what: 'command' | 'url'; span?: ProcessSpan } {
    const env = { ...(this.#options.env ?? process.env), WORKSPACE: this.#options.dir, RUN_DIR: path.dirname(this.#options.logDir) };
    if (config.command) {
      const [command, ...args] = config.command;
      const span = this.#options.startProcess?.(command, 'mcp');
      const transport = new sdk.StdioClientTransport({
        command,
        args,
        env: { ...sdk.getDefaultEnvironment(), ...expandAll(config.env, env), ...span?.env },
        cwd: path.resolve(this.#options.dir, config.cwd ?? '.'),
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));
      transport.stderr?.on('end', () => stderr.end());
      return { transport, what: 'command', ...(span ? { span } : {}) };
    }
    const headers = expandAll(config.headers, env);
    return { transport: new sdk.StreamableHTTPClientTransport(new URL(config.url ?? ''), { requestInit: { headers } }), what: 'url' };
  }
}

/** The MCP SDK's client side. */
interface McpSdk {
  Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
  StdioClientTransport: typeof import('@modelcontextprotocol/sdk/client/stdio.js').StdioClientTransport;
  getDefaultEnvironment: typeof import('@modelcontextprotocol/sdk/client/stdio.js').getDefaultEnvironment;
  StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport;
}

let sdkLoading: Promise<McpSdk> | undefined;

/**
 * Loaded when the first server starts: the SDK builds its protocol's zod schemas as it loads, a
 * cost every `apply` (and the help, which registers apply) paid for servers most runs never use.
 */
function mcpSdk(): Promise<McpSdk> {
  sdkLoading ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]).then(([client, stdio, http]) => ({
    Client: client.Client,
    StdioClientTransport: stdio.StdioClientTransport,
    getDefaultEnvironment: stdio.getDefaultEnvironment,
    StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
  }));
  return sdkLoading;
}

async function listAllTools(client: Client, options: { timeout: number; signal: AbortSignal }): Promise<McpToolInfo[]> {
  const out: McpToolInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor }, options);
    for (const t of page.tools) out.push({ name: t.name, description: t.description ?? '', inputSchema: t.inputSchema });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

function describeStartError(err: unknown, config: MCPServer, timeout: number): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `the command "${config.command?.[0]}" was not found (check the path, or install it)`;
  if (code === 'EACCES') return `the command "${config.command?.[0]}" is not executable`;
  return describeMcpError(err, timeout, '`initialize`');
}

/**
 * `${VAR}` in a server's env and headers reads factory's own environment (a token, say), so it
 * need not be written in the file; `${WORKSPACE}` is the folder of factory.yaml and `${RUN_DIR}`
 * the run's record folder (servers such as server-memory resolve relative paths elsewhere).
 */
export function expandAll(values: Readonly<Record<string, string | undefined>> | undefined, env: Readonly<NodeJS.ProcessEnv>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) if (v !== undefined) out[k] = v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => env[n] ?? '');
  return out;
}

/** The value, or undefined when `signal` fires first. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/** A server's stderr: all of it in the run's record, its end kept for messages. */
class StderrLog {
  #stream: WriteStream | undefined;
  #tail = '';

  constructor(
    readonly file: string,
    readonly redact: (text: string) => string,
  ) {}

  write(chunk: Buffer): void {
    if (!this.#stream) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.#stream = createWriteStream(this.file, { flags: 'a' });
      this.#stream.on('error', () => undefined);
    }
    const text = this.redact(chunk.toString('utf8'));
    this.#stream.write(text);
    this.#tail = (this.#tail + text).slice(-STDERR_TAIL);
  }

  #ended = false;
  #onEnd: (() => void)[] = [];

  /** The server's stderr reached its end (the process is gone). */
  end(): void {
    this.#ended = true;
    for (const f of this.#onEnd.splice(0)) f();
  }

  /** Waits until the stderr pipe has ended, at most `ms`. */
  drained(ms: number): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#onEnd.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** `; its stderr ended with: …`, or nothing. */
  tailText(): string {
    const t = this.#tail.trim();
    return t === '' ? '' : `; its stderr ended with: ${t.split('\n').slice(-5).join(' | ')}`;
  }

  close(): Promise<void> {
    const s = this.#stream;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}
