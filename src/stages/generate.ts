import { statSync } from 'node:fs';
import path from 'node:path';
import { createDenyMatcher, createMatcher } from '../workspace/matcher.js';
import { runAgent, type AgentResult } from '../agent/loop.js';
import { runExternalAgent } from '../agent/external.js';
import { buildTools, defaultToolNames, environmentWithoutSecrets } from '../agent/tools/index.js';
import type { GenerateStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { stageReasonOf, type ModelServices } from '../engine/models/models.js';
import { changesBetween } from '../workspace/snapshot.js';
import {
  asText,
  baseRequest,
  contextFiles,
  fileBlock,
  openingMessage,
  promptRecord,
  renderInstruction,
  renderText,
  servicesOf,
  stageError,
  type Got,
} from './model-input.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';
import { ZERO_USAGE } from '../base/usage.js';

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
    if (!models) return stageError('config', 'this engine was started without model services');
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
  if (!r.ok) return { ok: false, result: stageError('expression', `${key}: ${r.message}`) };
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
  return { ok: false, result: stageError('config', `workspace "${r.value}" is not a folder (${abs})`) };
}

async function agentLoop(ctx: StageContext): Promise<StageResult> {
  const got = servicesOf(ctx);
  if (!got.ok) return got.result;
  const models = got.value;
  const def = ctx.node.def as GenerateStage;
  const workspace = workspaceOf(ctx);
  if (!workspace.ok) return workspace.result;
  const system = renderText(ctx, 'system');
  if (!system.ok) return system.result;
  const instruction = renderInstruction(ctx);
  if (!instruction.ok) return instruction.result;
  const files = contextFiles(ctx, models);
  if (!files.ok) return files.result;
  const deny = renderList(ctx, 'deny');
  if (!deny.ok) return deny.result;
  const writes = renderList(ctx, 'writes');
  if (!writes.ok) return writes.result;
  const commands = renderList(ctx, 'commands');
  if (!commands.ok) return commands.result;

  const pipelineEnv = ctx.pipelineEnv.ok ? ctx.pipelineEnv.value : {};
  const tools = buildTools(def.tools ?? defaultToolNames(commands.value), {
    workspace: workspace.value,
    deny: createDenyMatcher(deny.value, models.holdoutGlobs),
    ...(writes.value ? { writes: createMatcher(writes.value) } : {}),
    ...(commands.value ? { commands: commands.value } : {}),
    commandEnv: { ...environmentWithoutSecrets(ctx.processEnv), ...pipelineEnv },
    signal: ctx.signal,
  });
  const systemText = system.value ?? DEFAULT_AGENT_SYSTEM;
  const request = baseRequest(models, systemText, [openingMessage(files.value.map(fileBlock), instruction.value ?? '')]);
  models.writePrompt(promptRecord({ system: systemText, files: files.value, sections: [['prompt', instruction.value ?? ''], ['tools', tools.definitions.map((t) => t.name).join(', ')]] }));

  let streamed = '';
  const result = await runAgent({
    provider: models.asProvider(),
    request,
    tools,
    ...(def.max_turns !== undefined ? { maxTurns: def.max_turns } : {}),
    ...(def.max_tool_errors !== undefined ? { maxToolErrors: def.max_tool_errors } : {}),
    signal: ctx.signal,
    key: (call) => ({ stage: ctx.node.path, iteration: 0, call }),
    onText: (t) => {
      if (t !== '') streamed = t;
      ctx.output('stdout', Buffer.from(t));
    },
    onEvent: (event) => {
      // Each turn's text on its own lines in the stage's output.
      if (event.type === 'model_response' && streamed !== '' && !streamed.endsWith('\n')) ctx.output('stdout', Buffer.from('\n'));
      if (event.type === 'model_response') streamed = '';
      if (event.type === 'tool_call') models.note({ type: 'tool_call', turn: event.turn, id: event.id, name: event.name, input: event.input });
      else if (event.type === 'tool_result') models.note({ type: 'tool_result', turn: event.turn, id: event.id, name: event.name, is_error: !event.ok, content: event.text });
    },
  });
  return agentResult(result);
}

function agentResult(result: AgentResult): StageResult {
  const outputs = { summary: result.summary, files_changed: result.filesChanged, turns: result.turns };
  if (result.status === 'succeeded') return { status: 'succeeded', outputs };
  switch (result.reason) {
    case 'provider':
      // A cassette without this answer is a configuration problem that no retry changes.
      return stageError(stageReasonOf(result.providerError) ?? (result.providerError?.kind === 'cassette' ? 'config' : 'provider'), result.message ?? 'the provider failed', outputs);
    case 'budget':
      return stageError('budget', result.message ?? 'the budget is exhausted', outputs);
    case 'max_turns':
    case 'tool_errors':
      return stageError(result.reason, result.message ?? result.reason, outputs);
    case 'cancelled':
    case undefined:
      return stageError('cancelled', result.message ?? 'cancelled', outputs);
  }
}

/** `agent: {run: [...]}`: the prompt on the agent's stdin, its usage charged, its changes found by the snapshot. */
async function external(ctx: StageContext, models: ModelServices): Promise<StageResult> {
  const workspace = workspaceOf(ctx);
  if (!workspace.ok) return workspace.result;
  const argv = ctx.render((ctx.node.def as GenerateStage).agent!.run, ['agent', 'run']);
  if (!argv.ok) return stageError('expression', `agent.run: ${argv.message}`);
  const system = renderText(ctx, 'system');
  if (!system.ok) return system.result;
  const instruction = renderInstruction(ctx);
  if (!instruction.ok) return instruction.result;
  const files = contextFiles(ctx, models);
  if (!files.ok) return files.result;
  const prompt = [system.value, ...files.value.map((f) => fileBlock(f).text), instruction.value].filter((s): s is string => s !== undefined && s !== '').join('\n\n');
  models.writePrompt(promptRecord({ system: system.value, files: files.value, sections: [['prompt', instruction.value ?? '']] }));

  const before = models.snapshot();
  const pipelineEnv = ctx.pipelineEnv.ok ? ctx.pipelineEnv.value : {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.processEnv)) if (v !== undefined) env[k] = v;
  const args = (Array.isArray(argv.value) ? argv.value : [argv.value]).map(asText);
  const r = await runExternalAgent({
    argv: args,
    prompt,
    workspace: workspace.value,
    signal: ctx.signal,
    env: { ...env, ...pipelineEnv },
    onOutput: (stream, chunk) => ctx.output(stream, chunk),
  });
  // A cost the agent reports is charged as reported; tokens without one are priced by the
  // stage's model (its `model`, else defaults'; validate requires one under a cost_usd budget).
  // Without a model, progress names the agent rather than an "unknown" model.
  const spent = r.usage !== undefined || r.cost_usd !== undefined;
  const exhausted = spent ? models.charge(r.usage ?? { ...ZERO_USAGE }, r.cost_usd, models.model ?? `${path.basename(args[0] ?? 'agent')} (agent)`) : undefined;
  const changed = changesBetween(before, models.snapshot()).map((c) => c.path);
  const summary = r.ok ? r.summary : '';
  const outputs = { summary, files_changed: changed, turns: 1 };
  if (!r.ok) return stageError(r.reason, r.message, outputs);
  if (exhausted) return stageError('budget', models.describeExhausted(exhausted, false), outputs);
  if (r.exitCode !== 0) {
    return { status: 'failed', reason: 'exit_code', message: r.exitCode === null ? `the agent was killed by ${r.signal ?? 'a signal'}` : `the agent exited with code ${r.exitCode}`, outputs };
  }
  return { status: 'succeeded', outputs };
}
