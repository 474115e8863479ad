import type { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

/** The SDK's ErrorCode values these messages tell apart (a type import keeps its module unloaded). */
const REQUEST_TIMEOUT: ErrorCode.RequestTimeout = -32001;
const CONNECTION_CLOSED: ErrorCode.ConnectionClosed = -32000;

/**
 * One sentence for what went wrong with a request to an MCP server: a timeout, a closed
 * connection, an error the server answered, or an answer that is not what the protocol says
 * (the SDK checks every result against its schema and throws a ZodError).
 */
export function describeMcpError(err: unknown, timeoutMs: number, request = 'the call'): string {
  if (isMcpError(err)) {
    if (err.code === Number(REQUEST_TIMEOUT)) return `no answer to ${request} within ${seconds(timeoutMs)} (raise the server's timeout if it needs longer)`;
    if (err.code === Number(CONNECTION_CLOSED)) return `the connection closed before ${request} was answered (the process exited)`;
    return `the server answered with an error: ${stripPrefix(err.message)}`;
  }
  if (isZodError(err)) return `the server's answer is malformed: ${zodSummary(err)}`;
  const e = err as Error | undefined;
  if (e?.name === 'AbortError') return `${request} was cancelled`;
  return e?.message ?? String(err);
}

/**
 * The SDK's McpError, told by its name rather than `instanceof`: importing the class would load
 * the SDK's schemas with this module (see mcpSdk in mcp-servers.ts).
 */
function isMcpError(err: unknown): err is Error & { code: number } {
  return err instanceof Error && err.name === 'McpError' && typeof (err as { code?: unknown }).code === 'number';
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function stripPrefix(message: string): string {
  return message.replace(/^MCP error -?\d+: /, '');
}

interface ZodLike {
  issues: { path: (string | number)[]; message: string }[];
}

function isZodError(err: unknown): err is ZodLike {
  return typeof err === 'object' && err !== null && Array.isArray((err as Partial<ZodLike>).issues);
}

function zodSummary(err: ZodLike): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'the result'}: ${i.message}`)
    .join('; ');
}
