import type { SandboxPolicy } from '../../process/sandbox.js';
import type { StartProcess } from '../../records/events.js';
import type { Matcher } from '../../workspace/matcher.js';
import type { ChangeTracker } from './changes.js';

export type ToolName = 'read_file' | 'write_file' | 'edit_file' | 'list_files' | 'search' | 'run_command';

export const TOOL_NAMES: readonly ToolName[] = ['read_file', 'write_file', 'edit_file', 'list_files', 'search', 'run_command'];

/** What a tool returns to the model: `ok: false` becomes a tool_result with `is_error: true`. */
export interface ToolResult {
  ok: boolean;
  text: string;
}

/** A JSON Schema of a tool's input: an object of string fields. */
export type InputSchema = {
  type: 'object';
  properties: Record<string, { type: 'string'; description: string }>;
  required: string[];
  additionalProperties: false;
};

export interface CommandSettings {
  /** The allow-list: exact commands, or prefixes ending in ` *`. */
  allow: readonly string[];
  timeoutMs: number;
  /** The whole environment of the command (not merged with the process's). */
  env: Record<string, string>;
  /** Bytes of stdout and of stderr returned to the model. */
  maxOutputBytes: number;
  /** Confines each command (process/sandbox.ts); absent: not confined. */
  sandbox?: SandboxPolicy;
  /** Tells the run about each command: its TRACEPARENT, and how it ended (docs/telemetry.md). */
  startProcess?: StartProcess;
}

/** Everything a tool needs; built once per agent run by `buildTools`. */
export interface ToolContext {
  workspace: string;
  deny: Matcher;
  writes?: Matcher;
  commands: CommandSettings;
  changes: ChangeTracker;
  signal: AbortSignal;
  /** The search tool's time limit, which stops a catastrophically backtracking regex. */
  searchTimeLimitMs: number;
}

export interface ToolSpec {
  name: ToolName;
  description: string;
  input_schema: InputSchema;
  /** Input already checked against `input_schema`. Must not throw (the registry catches anyway). */
  run(input: Record<string, string | undefined>, ctx: ToolContext): Promise<ToolResult>;
}

export const ok = (text: string): ToolResult => ({ ok: true, text });
export const fail = (text: string): ToolResult => ({ ok: false, text });
