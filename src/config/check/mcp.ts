import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { isRecord } from '../../base/is-record.js';
import { locate, type LoadedFile } from '../load/load.js';
import { didYouMean } from '../suggest.js';
import type { RawScope, RawStage } from './scopes.js';

const MCP_REF = /^mcp:([a-z][a-z0-9_-]*)(?:\/(.+))?$/;

/**
 * MCP servers and web tools (docs/configuration.md): every `mcp:NAME` names a server of
 * `mcp_servers`; a server has exactly one of `command` and `url`; `web` takes allowed_domains
 * or blocked_domains, not both. An MCP server runs outside the agent's path confinement, so a
 * stage that uses one in a pipeline with held-out scenarios gets a warning unless the server
 * is marked `holdout_safe: true`.
 */
export function checkMcp(loaded: LoadedFile, root: RawScope): Diagnostic[] {
  const config = isRecord(loaded.value) ? loaded.value : {};
  const servers = isRecord(config.mcp_servers) ? config.mcp_servers : {};
  const out: Diagnostic[] = [...checkServers(loaded, servers)];
  const holdout = hasScenarios(root);
  const visit = (scope: RawScope) => {
    for (const stage of scope.order) {
      if (stage.body) visit(stage.body);
      if (stage.def.kind !== 'generate') continue;
      out.push(...checkStageTools(loaded, stage, servers, holdout));
      const web = stage.def.web;
      if (isRecord(web) && web.allowed_domains !== undefined && web.blocked_domains !== undefined) {
        out.push(diagnostic(loaded.file, locate(loaded, [...stage.yamlPath, 'web', 'blocked_domains'], 'key'), 'web-domains', `stage "${stage.path}": web has both allowed_domains and blocked_domains`, 'keep one of them: the provider takes either a list to allow or a list to block'));
      }
    }
  };
  visit(root);
  return out;
}

function checkServers(loaded: LoadedFile, servers: Record<string, unknown>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, server] of Object.entries(servers)) {
    if (!isRecord(server)) continue;
    const at = ['mcp_servers', name];
    const hasCommand = server.command !== undefined;
    const hasUrl = server.url !== undefined;
    if (hasCommand === hasUrl) {
      out.push(diagnostic(loaded.file, locate(loaded, at, 'key'), 'mcp-server-kind', `MCP server "${name}" ${hasCommand ? 'has both `command` and `url`' : 'has neither `command` nor `url`'}`,
        'give `command: [program, args...]` for a server that speaks over stdin and stdout, or `url:` for a streamable-HTTP server'));
      continue;
    }
    const wrong = hasCommand ? ['headers'] : ['env', 'cwd'];
    for (const key of wrong) {
      if (server[key] !== undefined) {
        out.push(diagnostic(loaded.file, locate(loaded, [...at, key], 'key'), 'mcp-server-key', `MCP server "${name}": \`${key}\` applies only to a server ${hasCommand ? 'at a `url`' : 'started with `command`'}`, `remove \`${key}\``));
      }
    }
  }
  return out;
}

function checkStageTools(loaded: LoadedFile, stage: RawStage, servers: Record<string, unknown>, holdout: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  const tools = Array.isArray(stage.def.tools) ? stage.def.tools : [];
  const warned = new Set<string>();
  tools.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const m = MCP_REF.exec(entry);
    if (!m) return;
    const name = m[1]!;
    const at = locate(loaded, [...stage.yamlPath, 'tools', i]);
    const server = servers[name];
    if (!isRecord(server)) {
      const known = Object.keys(servers);
      out.push(diagnostic(loaded.file, at, 'unknown-mcp-server', `stage "${stage.path}" uses the MCP server "${name}", which mcp_servers does not define${didYouMean(name, known)}`,
        known.length > 0 ? `the servers defined are ${known.join(', ')}` : `add it: mcp_servers: { ${name}: { command: [program, args...] } }`));
      return;
    }
    if (holdout && server.holdout_safe !== true && !warned.has(name)) {
      warned.add(name);
      out.push(diagnostic(loaded.file, at, 'mcp-holdout', `stage "${stage.path}" uses the MCP server "${name}", which runs outside the agent's path confinement and may read the held-out scenarios`,
        `make sure the server cannot reach the scenario files, then mark it \`holdout_safe: true\` in mcp_servers.${name}`, 'warning'));
    }
  });
  return out;
}

function hasScenarios(scope: RawScope): boolean {
  return scope.order.some((s) => s.def.kind === 'scenario-validate' || (s.body !== undefined && hasScenarios(s.body)));
}
