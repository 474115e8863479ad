import { existsSync, watch, type FSWatcher } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { runsDir } from '../records/paths.js';

/** Changes within this long are sent as one event: a stage's end writes several lines at once. */
const COALESCE_MS = 60;
/** How often to look again for a records folder that does not exist yet (no run so far). */
const RETRY_MS = 500;
/** A comment line now and then keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * Server-sent events for the page: a recursive watch on `.factory/runs` says which runs changed
 * (the first folder of each changed path); each `change` event lists them, and the page asks
 * again for what it shows — the server reads only what the journals gained (FollowedRuns).
 */
export class LiveChanges {
  readonly #clients = new Set<ServerResponse>();
  #watcher: FSWatcher | undefined;
  #retry: NodeJS.Timeout | undefined;
  #pending = new Set<string>();
  #flush: NodeJS.Timeout | undefined;
  readonly #keepalive: NodeJS.Timeout;

  constructor(readonly workspace: string) {
    this.#watch();
    this.#keepalive = setInterval(() => this.#send(': keepalive\n\n'), KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  add(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': connected\n\n');
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
  }

  close(): void {
    this.#watcher?.close();
    clearTimeout(this.#retry);
    clearTimeout(this.#flush);
    clearInterval(this.#keepalive);
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #watch(): void {
    const dir = runsDir(this.workspace);
    if (!existsSync(dir)) {
      this.#retry = setTimeout(() => this.#watch(), RETRY_MS);
      this.#retry.unref();
      return;
    }
    try {
      this.#watcher = watch(dir, { recursive: true }, (_event, name) => this.#changed(name === null ? '*' : String(name).split(path.sep)[0]!));
      this.#watcher.on('error', () => undefined);
      // The folder appeared after the page loaded: whatever is in it is news.
      this.#changed('*');
    } catch {
      this.#retry = setTimeout(() => this.#watch(), RETRY_MS);
      this.#retry.unref();
    }
  }

  #changed(run: string): void {
    this.#pending.add(run);
    this.#flush ??= setTimeout(() => {
      this.#flush = undefined;
      const runs = [...this.#pending];
      this.#pending.clear();
      this.#send(`event: change\ndata: ${JSON.stringify({ runs })}\n\n`);
    }, COALESCE_MS);
  }

  #send(text: string): void {
    for (const res of this.#clients) res.write(text);
  }
}
