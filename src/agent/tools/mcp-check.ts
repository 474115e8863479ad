import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { MCPServer } from '../../config/generated/factory.js';

/** One line of `factory doctor` for an MCP server: what holds, or what is wrong and the fix. */
export type McpServerCheck = { ok: true; detail: string } | { ok: false; detail: string; fix: string };

/**
 * Whether an MCP server of `mcp_servers` can be started, without starting it: a stdio server's
 * program is found (a path relative to the server's `cwd`, or a name on PATH) and executable;
 * a streamable-HTTP server's `url` is a URL. `dir` is the folder of factory.yaml.
 */
export function checkMcpServer(name: string, server: MCPServer, dir: string, env: Readonly<NodeJS.ProcessEnv> = process.env): McpServerCheck {
  if (server.url !== undefined) {
    try {
      const url = new URL(server.url);
      return { ok: true, detail: `MCP server "${name}": ${url.origin}${url.pathname}` };
    } catch {
      return { ok: false, detail: `MCP server "${name}": "${server.url}" is not a URL`, fix: `fix mcp_servers.${name}.url` };
    }
  }
  const program = server.command?.[0];
  if (program === undefined) return { ok: false, detail: `MCP server "${name}" has neither command nor url`, fix: `give mcp_servers.${name} a \`command\` or a \`url\`` };
  const cwd = path.resolve(dir, server.cwd ?? '.');
  const found = findProgram(program, cwd, env.PATH ?? '');
  if (found) return { ok: true, detail: `MCP server "${name}": ${found}` };
  const named = program.includes('/') || program.includes(path.sep);
  return {
    ok: false,
    detail: `MCP server "${name}": the command "${program}" ${named ? `is not an executable file (looked in ${cwd})` : 'is not on PATH'}`,
    fix: named ? `fix mcp_servers.${name}.command, or install what it runs (npm ci, say)` : `install "${program}", or give its full path in mcp_servers.${name}.command`,
  };
}

/** The executable a command names: a path (relative to cwd) or the first match on PATH. */
export function findProgram(program: string, cwd: string, searchPath: string): string | undefined {
  if (program.includes('/') || program.includes(path.sep)) {
    const abs = path.resolve(cwd, program);
    return isExecutable(abs) ? abs : undefined;
  }
  for (const folder of searchPath.split(path.delimiter)) {
    if (folder === '') continue;
    const candidate = path.join(folder, program);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
