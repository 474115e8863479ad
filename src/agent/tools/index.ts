import type { SandboxPolicy } from '../../process/sandbox.js';
import type { Tool } from '@anthropic-ai/sdk/resources/messages';
import type { Matcher } from '../../workspace/matcher.js';
import { ChangeTracker } from './changes.js';
import { editFileTool } from './edit-file.js';
import { listFilesTool } from './list-files.js';
import { readFileTool } from './read-file.js';
import { runCommandTool } from './run-command.js';
import { SEARCH_TIME_LIMIT_MS, searchTool } from './search.js';
import { TOOL_NAMES, fail, type CommandSettings, type ToolContext, type ToolName, type ToolResult, type ToolSpec } from './types.js';
import { writeFileTool } from './write-file.js';
import type { ExtraTool } from './mcp-tools.js';
import type { StartProcess } from '../../records/events.js';

export { ChangeTracker, type ChangeKind } from './changes.js';
export { checkAllowed, tokenize } from '../../config/command-line.js';
export { TOOL_NAMES, type ToolName, type ToolResult, type ToolSpec } from './types.js';
export { checkMcpServer, findProgram, type McpServerCheck } from './mcp-check.js';
export { McpServers, DEFAULT_MCP_CALL_TIMEOUT_MS, DEFAULT_MCP_STARTUP_TIMEOUT_MS, type McpServersOptions } from './mcp-servers.js';
export { mcpTools, parseMcpRef, qualifiedName, type ExtraTool, type McpToolRef } from './mcp-tools.js';

const SPECS: Record<ToolName, ToolSpec> = {
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_files: listFilesTool,
  search: searchTool,
  run_command: runCommandTool,
};

/** The default `tools` of a generate stage (docs/configuration.md): the five file tools, plus run_command when `commands` is set. */
export function defaultToolNames(commands: readonly string[] | undefined): ToolName[] {
  const names: ToolName[] = ['read_file', 'write_file', 'edit_file', 'list_files', 'search'];
  if (commands !== undefined && commands.length > 0) names.push('run_command');
  return names;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_COMMAND_OUTPUT_BYTES = 16 * 1024;

/** Environment names that look like credentials; left out of run_command's environment by default. */
const SECRET_NAME = /(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)($|_)/i;

/** The process environment without variables whose names look like secrets (ANTHROPIC_API_KEY, GITHUB_TOKEN, …). */
export function environmentWithoutSecrets(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !SECRET_NAME.test(name)) out[name] = value;
  return out;
}

export interface ToolOptions {
  /** The folder the agent works in. */
  workspace: string;
  /** See `createDenyMatcher`. */
  deny: Matcher;
  /** Absent: anything not denied may be written. */
  writes?: Matcher;
  /** The `commands` allow-list; run_command refuses everything without it. */
  commands?: readonly string[];
  commandTimeoutMs?: number;
  /** run_command's whole environment; default: the process's without secret-looking variables. */
  commandEnv?: Record<string, string>;
  commandOutputBytes?: number;
  /** Confines run_command's programs. */
  sandbox?: SandboxPolicy;
  /** Tells the run about run_command's programs (docs/telemetry.md). */
  startProcess?: StartProcess;
  /** Default 10 s. */
  searchTimeLimitMs?: number;
  /** Aborts a running command (its process tree is killed). */
  signal: AbortSignal;
  /** Tools answered elsewhere (an MCP server's), after the built-ins; a name taken twice is an error. */
  extra?: readonly ExtraTool[];
}

/** The tools of one agent run: Messages API definitions plus the code that answers each call. */
export interface ToolSet {
  readonly definitions: Tool[];
  has(name: string): boolean;
  /** Validates the input against the tool's schema, then runs it. Never throws. */
  run(name: string, input: unknown): Promise<ToolResult>;
  /** Workspace-relative paths write_file and edit_file created or modified, sorted. */
  filesChanged(): string[];
  readonly changes: ChangeTracker;
}

export function buildTools(names: readonly string[], options: ToolOptions): ToolSet {
  const specs: ToolSpec[] = [];
  for (const name of names) {
    if (!(TOOL_NAMES as readonly string[]).includes(name)) throw new TypeError(`unknown agent tool "${name}" (known: ${TOOL_NAMES.join(', ')})`);
    const spec = SPECS[name as ToolName];
    if (!specs.includes(spec)) specs.push(spec);
  }
  const changes = new ChangeTracker();
  const commands: CommandSettings = {
    allow: options.commands ?? [],
    timeoutMs: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    env: options.commandEnv ?? environmentWithoutSecrets(),
    maxOutputBytes: options.commandOutputBytes ?? DEFAULT_COMMAND_OUTPUT_BYTES,
    ...(options.sandbox ? { sandbox: options.sandbox } : {}),
    ...(options.startProcess ? { startProcess: options.startProcess } : {}),
  };
  const ctx: ToolContext = { workspace: options.workspace, deny: options.deny, writes: options.writes, commands, changes, signal: options.signal, searchTimeLimitMs: options.searchTimeLimitMs ?? SEARCH_TIME_LIMIT_MS };
  const byName = new Map(specs.map((s) => [s.name as string, s]));
  const extra = new Map<string, ExtraTool>();
  for (const tool of options.extra ?? []) {
    if (byName.has(tool.definition.name) || extra.has(tool.definition.name)) throw new ToolNameTaken(tool.definition.name);
    extra.set(tool.definition.name, tool);
  }
  return {
    definitions: [...specs.map((s) => ({ name: s.name, description: s.description, input_schema: s.input_schema })), ...[...extra.values()].map((t) => t.definition)],
    has: (name) => byName.has(name) || extra.has(name),
    changes,
    filesChanged: () => changes.paths(),
    async run(name, input) {
      const other = extra.get(name);
      if (other) return runExtra(name, other, input);
      const spec = byName.get(name);
      if (!spec) {
        return fail(`unknown tool "${name}"; the tools available are ${[...byName.keys(), ...extra.keys()].join(', ')}`);
      }
      const checked = checkInput(spec, input);
      if (!checked.ok) return checked.result;
      try {
        return await spec.run(checked.input, ctx);
      } catch (err) {
        return fail(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/** Two tools under one name (a server `a` with tool `b__c` and a server `a__b` with tool `c`): the model could not tell them apart. */
export class ToolNameTaken extends Error {
  constructor(readonly toolName: string) {
    super(`two tools are named "${toolName}"`);
  }
}

async function runExtra(name: string, tool: ExtraTool, input: unknown): Promise<ToolResult> {
  try {
    return await tool.run(input);
  } catch (err) {
    return fail(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

type Checked = { ok: true; input: Record<string, string | undefined> } | { ok: false; result: ToolResult };

/** Required fields present and every known field a string; unknown fields are ignored. */
function checkInput(spec: ToolSpec, input: unknown): Checked {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, result: fail(`${spec.name}: the input must be an object with ${describeFields(spec)}`) };
  }
  const record = input as Record<string, unknown>;
  const out: Record<string, string | undefined> = {};
  for (const [field] of Object.entries(spec.input_schema.properties)) {
    const value = record[field];
    if (value === undefined || value === null) {
      if (spec.input_schema.required.includes(field)) {
        return { ok: false, result: fail(`${spec.name}: the input field "${field}" is missing (expected ${describeFields(spec)})`) };
      }
      continue;
    }
    if (typeof value !== 'string') {
      return { ok: false, result: fail(`${spec.name}: the input field "${field}" must be a string, got ${Array.isArray(value) ? 'an array' : typeof value}`) };
    }
    out[field] = value;
  }
  return { ok: true, input: out };
}

function describeFields(spec: ToolSpec): string {
  return Object.keys(spec.input_schema.properties)
    .map((f) => (spec.input_schema.required.includes(f) ? `"${f}"` : `"${f}" (optional)`))
    .join(', ');
}
