import { statSync } from 'node:fs';
import path from 'node:path';
import { createDenyMatcher, createMatcher } from '../workspace/matcher.js';
import { runAgent, type AgentResult } from '../agent/loop.js';
import { runExternalAgent } from '../agent/external.js';
import { sandboxPolicy, sandboxUnavailable } from './sandbox-policy.js';
import { buildTools, defaultToolNames, environmentWithoutSecrets, ToolNameTaken, type ToolSet } from '../agent/tools/index.js';
import { clashOf, splitTools, stageMcpTools, webToolDefinitions } from './agent-tools.js';
import type { GenerateStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { budgetReason } from '../records/reasons.js';
import { changesBetween } from '../workspace/snapshot.js';
import {
  asText,
  baseRequest,
  leadingBlocks,
  type Got,
  modelInput,
  openingMessage,
  promptRecord,
  renderText,
  servicesOf,
  stageError,
} from './model-input.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';
import { ZERO_USAGE } from '../base/usage.js';
import { expressionReason } from '../engine/expressions.js';
import type { ModelServices } from '../engine/models/services.js';

export const DEFAULT_AGENT_SYSTEM = [
  'You are a coding agent working in a project folder (the workspace).',
  'Use the tools to look at the files and to change them; every path is relative to the workspace.',
  'Some paths are off-limits: a tool call that is refused returns an error; do not try to get around it.',
  'When the task is done, stop calling tools and reply with a short summary of what you changed.',
].join(' ');

/**
 * `kind: generate`: the tool-use loop of src/agent with the stage's tools in its workspace —
 * deny = the defaults (.git, .factory, .env), the stage's `deny` and every scenario glob of the
 * pipeline (the holdout); `writes` limits what it may change; `run_command` only with
 * `commands`. Or, with `agent: {run: [...]}`, an external coding agent CLI does the stage.
 */
export const generateExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const models = ctx.models;
    // The engine gives every model stage its services: without them it is a bug (`internal`, exit 70).
    if (!models) throw new Error(`the engine gave the generate stage "${ctx.node.path}" no model services`);
    try {
      return (ctx.node.def as GenerateStage).agent ? await external(ctx, models) : await agentLoop(ctx);
    } finally {
      await models.flush();
    }
  },
};

function renderList(ctx: StageContext, key: string): Got<string[] | undefined> {
  const raw = (ctx.node.def as unknown as Record<string, unknown>)[key];
  if (raw === undefined) return { ok: true, value: undefined };
  const r = ctx.render(raw as JsonValue, [key]);
  if (!r.ok) return { ok: false, result: stageError(expressionReason(r), `${key}: ${r.message}`) };
  const list = (Array.isArray(r.value) ? r.value : [r.value]).flatMap((v) => (Array.isArray(v) ? v : [v])).map(asText).filter((s) => s !== '');
  return { ok: true, value: list };
}

function workspaceOf(ctx: StageContext): Got<string> {
  const r = renderText(ctx, 'workspace');
  if (!r.ok) return r;
  const abs = r.value === undefined ? ctx.pipeline.dir : path.resolve(ctx.pipeline.dir, r.value);
  try {
    if (statSync(abs).isDirectory()) return { ok: true, value: abs };
  } catch {
    // below
  }
  return { ok: false, result: stageError({ kind: 'config' }, `workspace "${r.value}" is not a folder (${abs})`) };
}

async function agentLoop(ctx: StageContext): Promise<StageResult> {
  const got = servicesOf(ctx);
  if (!got.ok) return got.result;
  const models = got.value;
  const def = ctx.node.def as GenerateStage;
  const workspace = workspaceOf(ctx);
  if (!workspace.ok) return workspace.result;
  const input = modelInput(ctx, models);
  if (!input.ok) return input.result;
  const { system, instruction, files } = input.value;
  const deny = renderList(ctx, 'deny');
  if (!deny.ok) return deny.result;
  const writes = renderList(ctx, 'writes');
  if (!writes.ok) return writes.result;
  const commands = renderList(ctx, 'commands');
  if (!commands.ok) return commands.result;

  const pipelineEnv = ctx.pipelineEnv.ok ? ctx.pipelineEnv.value : {};
  const kinds = splitTools(def.tools ?? defaultToolNames(commands.value));
  const sandbox = kinds.builtins.includes('run_command') ? sandboxPolicy(ctx, workspace.value) : undefined;
  const unavailable = await sandboxUnavailable(sandbox);
  if (unavailable) return unavailable;
  const web = webToolDefinitions(ctx, models.provider, kinds.web);
  if (!web.ok) return web.result;
  const mcp = await stageMcpTools(ctx, kinds.mcp);
  if (!mcp.ok) return mcp.result;
  let tools: ToolSet;
  try {
    tools = buildTools(kinds.builtins, {
      workspace: workspace.value,
      deny: createDenyMatcher(deny.value, models.holdoutGlobs),
      ...(writes.value ? { writes: createMatcher(writes.value) } : {}),
      ...(commands.value ? { commands: commands.value } : {}),
      commandEnv: { ...environmentWithoutSecrets(ctx.processEnv), ...pipelineEnv },
      signal: ctx.signal,
      extra: mcp.value,
      ...(sandbox ? { sandbox } : {}),
      ...(ctx.startProcess ? { startProcess: ctx.startProcess } : {}),
    });
  } catch (err) {
    if (!(err instanceof ToolNameTaken)) throw err;
    return stageError({ kind: 'config' }, `stage "${ctx.node.path}" gives the model two tools named "${err.toolName}" (MCP tools are named SERVER__TOOL): rename one of the servers in mcp_servers, or list single tools with mcp:NAME/TOOL`);
  }
  const toolNames = [...web.value.map((t) => t.name), ...tools.definitions.map((t) => t.name)];
  const clash = clashOf(toolNames);
  if (clash) return stageError({ kind: 'config' }, `stage "${ctx.node.path}" gives the model two tools named "${clash}"`);
  const systemText = system ?? DEFAULT_AGENT_SYSTEM;
  const request = baseRequest(models, systemText, [openingMessage(leadingBlocks(input.value), instruction ?? '')]);
  if (web.value.length > 0) request.tools = web.value;
  models.writePrompt(promptRecord({ system: systemText, files: files, learnings: input.value.learnings, sections: [['prompt', instruction ?? ''], ['tools', toolNames.join(', ')]] }));

  let streamed = '';
  const result = await runAgent({
    model: models,
    request,
    tools,
    ...(def.max_turns !== undefined ? { maxTurns: def.max_turns } : {}),
    ...(def.max_tool_errors !== undefined ? { maxToolErrors: def.max_tool_errors } : {}),
    signal: ctx.signal,
    onText: (t) => {
      if (t !== '') streamed = t;
      ctx.output('stdout', Buffer.from(t));
    },
    onEvent: (event) => {
      // Each turn's text on its own lines in the stage's output.
      if (event.type === 'model_response' && streamed !== '' && !streamed.endsWith('\n')) ctx.output('stdout', Buffer.from('\n'));
      if (event.type === 'model_response') streamed = '';
      if (event.type === 'tool_call') models.note({ type: 'tool_call', turn: event.turn, id: event.id, name: event.name, input: event.input });
      else if (event.type === 'tool_result') {
        models.note({ type: 'tool_result', turn: event.turn, id: event.id, name: event.name, is_error: !event.ok, content: event.text, ms: event.ms });
        ctx.toolCall?.({ tool: event.name, call_id: event.id, duration_ms: event.ms, error: !event.ok });
      }
    },
  });
  return agentResult(result);
}

function agentResult(result: AgentResult): StageResult {
  const outputs = { summary: result.summary, files_changed: result.filesChanged, turns: result.turns };
  if (result.status === 'succeeded') return { status: 'succeeded', outputs };
  // The agent's reason is the stage's: its own limits, or the model call that failed (the provider, the budget, a cut-off answer, a cassette without the answer).
  const reason = result.reason ?? { kind: 'cancelled' };
  return stageError(reason, result.message ?? reason.kind, outputs);
}

/** `agent: {run: [...]}`: the prompt on the agent's stdin, its usage charged, its changes found by the snapshot. */
async function external(ctx: StageContext, models: ModelServices): Promise<StageResult> {
  const workspace = workspaceOf(ctx);
  if (!workspace.ok) return workspace.result;
  const argv = ctx.render((ctx.node.def as GenerateStage).agent!.run, ['agent', 'run']);
  if (!argv.ok) return stageError(expressionReason(argv), `agent.run: ${argv.message}`);
  const input = modelInput(ctx, models);
  if (!input.ok) return input.result;
  const { system, instruction, files } = input.value;
  const prompt = [system, ...leadingBlocks(input.value).map((b) => b.text), instruction].filter((s): s is string => s !== undefined && s !== '').join('\n\n');
  models.writePrompt(promptRecord({ system: system, files: files, learnings: input.value.learnings, sections: [['prompt', instruction ?? '']] }));

  const sandbox = sandboxPolicy(ctx, workspace.value);
  const unavailable = await sandboxUnavailable(sandbox);
  if (unavailable) return unavailable;
  const before = models.snapshot();
  const pipelineEnv = ctx.pipelineEnv.ok ? ctx.pipelineEnv.value : {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.processEnv)) if (v !== undefined) env[k] = v;
  const args = (Array.isArray(argv.value) ? argv.value : [argv.value]).map(asText);
  const span = ctx.startProcess?.(args[0] ?? '', 'agent');
  const r = await runExternalAgent({
    argv: args,
    prompt,
    workspace: workspace.value,
    signal: ctx.signal,
    env: { ...env, ...pipelineEnv, ...span?.env },
    onOutput: (stream, chunk) => ctx.output(stream, chunk),
    ...(sandbox ? { sandbox } : {}),
  });
  span?.end(r.ok ? { exitCode: r.exitCode, signal: r.signal ?? undefined } : { error: r.reason.kind });
  // A cost the agent reports is charged as reported; tokens without one are priced by the
  // stage's model (its `model`, else defaults'; validate requires one under a cost_usd budget).
  // Without a model, progress names the agent rather than an "unknown" model.
  const spent = r.usage !== undefined || r.cost_usd !== undefined;
  const exhausted = spent ? models.charge(r.usage ?? { ...ZERO_USAGE }, r.cost_usd, models.model ?? `${path.basename(args[0] ?? 'agent')} (agent)`) : undefined;
  const changed = changesBetween(before, models.snapshot()).map((c) => c.path);
  const summary = r.ok ? r.summary : '';
  const outputs = { summary, files_changed: changed, turns: 1 };
  if (!r.ok) return stageError(r.reason, r.message, outputs);
  if (exhausted) return stageError(budgetReason(exhausted), models.describeExhausted(exhausted, false), outputs);
  if (r.exitCode !== 0) {
    return { status: 'failed', reason: { kind: 'exit_code', code: r.exitCode, ...(r.signal ? { signal: r.signal } : {}) }, message: r.exitCode === null ? `the agent was killed by ${r.signal ?? 'a signal'}` : `the agent exited with code ${r.exitCode}`, outputs };
  }
  return { status: 'succeeded', outputs };
}
