export { resolveInWorkspace, isDenied, type ConfinementReason, type ConfineMode, type ConfinePolicy, type Confined } from '../workspace/confine.js';
export { createMatcher, createDenyMatcher, DEFAULT_DENY, type Matcher } from '../workspace/matcher.js';
export {
  buildTools,
  defaultToolNames,
  environmentWithoutSecrets,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_COMMAND_OUTPUT_BYTES,
  type ToolOptions,
  type ToolSet,
  type ToolName,
  type ToolResult,
} from './tools/index.js';
export { runAgent, DEFAULT_MAX_TURNS, DEFAULT_MAX_TOOL_ERRORS, type AgentOptions, type AgentResult, type AgentEvent, type AgentStopReason, type AgentModel } from './loop.js';
export { runExternalAgent, parseAgentOutput, type ExternalAgentOptions, type ExternalAgentResult, type ParsedAgentOutput } from './external.js';
