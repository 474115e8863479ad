import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findProgram } from '../base/find-program.js';
import { isRecord } from '../base/is-record.js';
import type { Pipeline, StageNode } from '../config/pipeline.js';
import { nearestModel, priceOf, pricingTable } from '../config/pricing.js';
import { isAgentStage, ownersOf, stageModel, stageProvider } from '../config/stage-model.js';
import { installHint } from '../process/sandbox-runtime.js';

/** One thing the pipeline needs from this machine: whether it holds, what was found, and the fix when it does not. */
export interface Check {
  ok: boolean;
  what: string;
  fix?: string;
}

export interface Machine {
  env: NodeJS.ProcessEnv;
  nodeVersion: string;
  platform: NodeJS.Platform;
}

const MIN_NODE: readonly [number, number] = [20, 19];
const MODEL_KINDS = new Set(['plan', 'generate', 'review', 'scenario-validate', 'learn']);

/** Every check `factory doctor` makes for this pipeline, in the order it prints them. */
export function doctorChecks(pipeline: Pipeline, machine: Machine): Check[] {
  const uses = pipelineUses(pipeline);
  return [
    nodeCheck(machine.nodeVersion),
    programCheck('git', machine, 'install git (Debian/Ubuntu: apt-get install git; macOS: xcode-select --install)'),
    ...providerChecks(pipeline, uses.providers, machine),
    ...(uses.sandbox ? sandboxChecks(machine) : []),
    ...mcpChecks(pipeline, machine),
    ...uses.models.map((model) => pricingCheck(pipeline, model)),
  ];
}

interface Uses {
  providers: Set<string>;
  models: string[];
  sandbox: boolean;
}

/** The providers and models the stages call, and whether any stage runs in a sandbox. */
function pipelineUses(pipeline: Pipeline): Uses {
  const out: Uses = { providers: new Set(), models: [], sandbox: isSandboxed(pipeline.config.sandbox) };
  const visit = (nodes: readonly StageNode[], ancestors: StageNode[]) => {
    for (const node of nodes) {
      const owners = ownersOf(pipeline, ancestors);
      if (isSandboxed((node.def as { sandbox?: unknown }).sandbox ?? pipeline.config.sandbox)) out.sandbox = true;
      const model = stageModel(owners, node);
      if (MODEL_KINDS.has(node.kind) && !isAgentStage(node) && (node.kind !== 'scenario-validate' || model !== undefined)) {
        out.providers.add(stageProvider(owners, node));
        if (model !== undefined && !out.models.includes(model)) out.models.push(model);
      }
      if (node.body) visit(node.body.stages, [...ancestors, node]);
    }
  };
  visit(pipeline.root.stages, []);
  return out;
}

function isSandboxed(setting: unknown): boolean {
  return setting === true || isRecord(setting);
}

function nodeCheck(version: string): Check {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const ok = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  return ok ? { ok, what: `Node ${version}` } : { ok, what: `Node ${version} is older than ${MIN_NODE.join('.')}`, fix: `install Node ${MIN_NODE.join('.')} or later (https://nodejs.org, or nvm install 20)` };
}

function programCheck(name: string, machine: Machine, fix: string): Check {
  const found = findProgram(name, machine.env.PATH);
  return found ? { ok: true, what: `${name} (${found})` } : { ok: false, what: `${name} is not on the PATH`, fix };
}

function providerChecks(pipeline: Pipeline, providers: ReadonlySet<string>, machine: Machine): Check[] {
  const settings = pipeline.config.providers ?? {};
  const out: Check[] = [];
  if (providers.has('anthropic')) {
    const name = settings.anthropic?.api_key_env ?? 'ANTHROPIC_API_KEY';
    // Whether the variable is set, never its value: doctor's output may be pasted anywhere.
    out.push(machine.env[name] ? { ok: true, what: `API key in ${name}` } : { ok: false, what: `${name} is not set`, fix: `export ${name}=<your key>, or run offline from a cassette: factory apply --replay FILE` });
  }
  if (providers.has('openai')) {
    const name = settings.openai?.api_key_env ?? 'OPENAI_API_KEY';
    out.push(machine.env[name] ? { ok: true, what: `API key in ${name}` } : { ok: false, what: `${name} is not set`, fix: `export ${name}=<your key> (any value for a local server that needs none), or run offline from a cassette: factory apply --replay FILE` });
  }
  if (providers.has('replay')) {
    const cassette = settings.replay?.cassette;
    if (cassette === undefined) out.push({ ok: false, what: 'the replay provider has no cassette', fix: 'set providers.replay.cassette, or pass factory apply --replay FILE' });
    else {
      const abs = path.resolve(pipeline.dir, cassette);
      out.push(existsSync(abs) ? { ok: true, what: `cassette ${cassette}` } : { ok: false, what: `cassette ${cassette} does not exist (${abs})`, fix: 'record one with factory apply --record FILE, or fix the path' });
    }
  }
  return out;
}

/** The programs the sandbox runtime needs, and on Linux whether bubblewrap can make its namespaces here. */
function sandboxChecks(machine: Machine): Check[] {
  if (machine.platform === 'darwin') return [programCheck('rg', machine, installHint('darwin')), programCheck('sandbox-exec', machine, 'sandbox-exec comes with macOS: check /usr/bin is on the PATH')];
  if (machine.platform !== 'linux') return [{ ok: false, what: `the sandbox cannot run on ${machine.platform}`, fix: installHint(machine.platform) }];
  const checks = ['bwrap', 'socat', 'rg'].map((name) => programCheck(name, machine, installHint('linux')));
  const bwrap = findProgram('bwrap', machine.env.PATH);
  if (bwrap) checks.push(bubblewrapWorks(bwrap));
  return checks;
}

function bubblewrapWorks(bwrap: string): Check {
  const r = spawnSync(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-net', '--', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return { ok: true, what: 'bubblewrap can make a sandbox here' };
  const why = r.stderr.trim().split('\n').at(-1) || r.error?.message || `exit ${String(r.status)}`;
  return { ok: false, what: `bubblewrap cannot make a sandbox here: ${why}`, fix: 'allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or in a container run it with --privileged or CAP_SYS_ADMIN' };
}

/**
 * Each MCP server's program (`mcp_servers: {NAME: {command: [argv]}}`): there and executable. A
 * server reached by `url` is not contacted. Read from the config as written, so this holds
 * whatever else a server entry carries.
 */
function mcpChecks(pipeline: Pipeline, machine: Machine): Check[] {
  const servers: unknown = (pipeline.config as unknown as Record<string, unknown>).mcp_servers;
  if (!isRecord(servers)) return [];
  return Object.entries(servers).map(([name, server]): Check => {
    if (isRecord(server) && typeof server.url === 'string') return { ok: true, what: `MCP server ${name}: ${server.url} (not contacted)` };
    const argv = isRecord(server) && Array.isArray(server.command) ? server.command : [];
    const program = typeof argv[0] === 'string' ? argv[0] : '';
    const found = program === '' ? undefined : findProgram(program, machine.env.PATH, pipeline.dir);
    return found ? { ok: true, what: `MCP server ${name}: ${found}` } : { ok: false, what: `MCP server ${name}: "${program}" is not on the PATH`, fix: `install it, or give mcp_servers.${name}.command the program's path` };
  });
}

function pricingCheck(pipeline: Pipeline, model: string): Check {
  const table = pricingTable(pipeline.config.pricing);
  if (priceOf(model, table)) return { ok: true, what: `pricing of ${model}` };
  const near = nearestModel(model, table);
  return { ok: false, what: `no pricing for ${model}${near ? ` (did you mean ${near}?)` : ''}`, fix: `add ${model} under pricing: with input and output USD per million tokens` };
}
