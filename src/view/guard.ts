import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Who may talk to the server: the address it printed, carrying its token. */
export interface Gate {
  token: string;
  /** `127.0.0.1:<port>`, as the browser sends it in Host. */
  host: string;
}

/**
 * Why a request is refused, or undefined when it may pass. A request must name the server's own
 * address in Host (so a DNS-rebinding page, whose Host is its own name, is refused), come from
 * no other page (Origin, when a browser sends one, is the server's), and carry the token (in the
 * query, `?token=`, or the `x-factory-token` header).
 */
export function refusal(req: IncomingMessage, url: URL, gate: Gate): string | undefined {
  if (req.headers.host !== gate.host) return `this server answers only at http://${gate.host}`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${gate.host}`) return `requests from ${origin} are refused: only the page this server serves may call it`;
  const given = url.searchParams.get('token') ?? headerValue(req.headers['x-factory-token']);
  if (given === undefined || !sameToken(given, gate.token)) return 'a token is required: open the URL factory view printed, with its ?token=';
  return undefined;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
