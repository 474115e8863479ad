import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tempWorkspace } from '../../support/pipeline-builder.js';

/**
 * A program for sandboxed stages: GETs http://127.0.0.1:PORT/ directly (`direct`), or through
 * the HTTP proxy the sandbox hands its programs in HTTP_PROXY (`proxy`), which is how a program
 * reaches an allowed domain. Prints the answer; exits 1 with the reason on stderr otherwise.
 */
export const PROBE = `import http from 'node:http';
const [mode, port] = process.argv.slice(2);
let options = { host: '127.0.0.1', port: Number(port), path: '/' };
if (mode === 'proxy') {
  const proxy = new URL(process.env.HTTP_PROXY ?? 'http://no-proxy.invalid');
  const user = decodeURIComponent(proxy.username), pass = decodeURIComponent(proxy.password);
  const auth = user ? { 'proxy-authorization': 'Basic ' + Buffer.from(user + ':' + pass).toString('base64') } : {};
  options = { host: proxy.hostname, port: Number(proxy.port), path: 'http://127.0.0.1:' + port + '/', headers: { host: '127.0.0.1:' + port, ...auth } };
}
http.get(options, (res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => {
    if (res.statusCode === 200) console.log(body);
    else console.error('refused: HTTP ' + res.statusCode);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
}).on('error', (err) => {
  console.error('connection failed: ' + err.message);
  process.exit(1);
});
`;

export const SECRET = 'PRIVATE-KEY-MATERIAL';

export interface Machine {
  /** A home folder with a fake ~/.ssh/id_ed25519 holding SECRET. */
  home: string;
  /** A folder outside every workspace. */
  outside: string;
}

export function machine(): Machine {
  const root = tempWorkspace('factory-sandbox-machine-');
  const home = path.join(root, 'home');
  const outside = path.join(root, 'outside');
  mkdirSync(path.join(home, '.ssh'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(home, '.ssh', 'id_ed25519'), `${SECRET}\n`);
  return { home, outside };
}

/** A loopback HTTP server answering every request with `hello`. */
export async function loopbackServer(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.end('hello from loopback');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A PATH with the programs the runtime looks up, but without bubblewrap: a machine that has not
 * installed it. (`which` is how the runtime looks programs up.)
 */
export function pathWithoutBubblewrap(): string {
  const dir = tempWorkspace('factory-no-bwrap-');
  for (const program of ['which', 'sh', 'socat', 'rg', 'git']) {
    const found = ['/usr/bin', '/bin'].map((from) => path.join(from, program)).find((p) => existsSync(p));
    if (found) symlinkSync(found, path.join(dir, program));
  }
  return dir;
}
