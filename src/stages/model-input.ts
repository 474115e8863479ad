import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ContentBlock, MessageParam, TextBlockParam, ThinkingConfigParam } from '@anthropic-ai/sdk/resources/messages';
import { resolveInWorkspace } from '../workspace/confine.js';
import { expandGlobs } from '../config/files.js';
import type { JsonValue } from '../config/pipeline.js';
import type { Thinking } from '../config/generated/factory.js';
import { isBinary } from '../workspace/snapshot.js';
import type { ModelRequest } from '../providers/types.js';
import type { StageContext, StageResult } from '../engine/executor.js';
import type { ModelCallReason, Reason } from '../records/reasons.js';
import { expressionReason } from '../engine/expressions.js';
import type { ModelServices } from '../engine/models/services.js';
import type { Included } from '../learnings/select.js';
import { learningBlock, learningsSection, stageLearnings } from './learnings-input.js';

/**
 * What the three model stages share: the instruction (`prompt`, or `prompt_file` read and
 * interpolated the same way), the system prompt, the `context` files (each under its path, the
 * holdout refused), and the request laid out as providers expect it: the context files are the
 * leading blocks of the first user message and the instruction its last block, so the cache
 * breakpoint on the block before the last covers them.
 */

/** A context file larger than this is cut, with a note saying so. */
export const MAX_CONTEXT_FILE_BYTES = 512 * 1024;

export type Got<T> = { ok: true; value: T } | { ok: false; result: StageResult };

export function stageError(reason: Reason, message: string, outputs: Record<string, JsonValue> = {}): StageResult {
  return { status: 'error', reason, message, outputs };
}

/** A rendered value as text: strings as they are, null as '', anything else as JSON. */
export function asText(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value, null, 2) : String(value);
}

export function servicesOf(ctx: StageContext): Got<ModelServices & { model: string }> {
  const models = ctx.models;
  // The engine gives every model stage its services: without them it is a bug (`internal`, exit 70).
  if (!models) throw new Error(`the engine gave the ${ctx.node.kind} stage "${ctx.node.path}" no model services`);
  if (models.model === undefined) {
    return { ok: false, result: stageError({ kind: 'config' }, `stage "${ctx.node.path}" names no model: set \`model:\` on it or \`defaults.model\``) };
  }
  return { ok: true, value: models as ModelServices & { model: string } };
}

/** Renders one optional text key of the stage. */
export function renderText(ctx: StageContext, key: string): Got<string | undefined> {
  // A stage that writes no system prompt takes its profile's.
  const raw = (ctx.node.def as unknown as Record<string, unknown>)[key] ?? (key === 'system' ? ctx.models?.profileSystem : undefined);
  if (raw === undefined) return { ok: true, value: undefined };
  const r = ctx.render(raw as JsonValue, [key]);
  if (!r.ok) return { ok: false, result: stageError(expressionReason(r), `${key}: ${r.message}`) };
  return { ok: true, value: asText(r.value) };
}

/** What every model stage sends first: its system prompt, its instruction and its context files, each rendered. */
export interface ModelInput {
  system: string | undefined;
  instruction: string | undefined;
  files: ContextFile[];
  /** The learnings it reads (`learnings:`), after the context files. */
  learnings: Included[];
}

/** The stage's `system`, `prompt` (or `prompt_file`), `context` and learnings, in that order; the first that fails ends the stage. */
export function modelInput(ctx: StageContext, models: ModelServices): Got<ModelInput> {
  const system = renderText(ctx, 'system');
  if (!system.ok) return system;
  const instruction = renderInstruction(ctx);
  if (!instruction.ok) return instruction;
  const files = contextFiles(ctx, models);
  if (!files.ok) return files;
  return { ok: true, value: { system: system.value, instruction: instruction.value, files: files.value, learnings: stageLearnings(ctx, models) } };
}

/** The instruction: `prompt`, or the file `prompt_file` names (against the pipeline's folder), both interpolated. */
export function renderInstruction(ctx: StageContext): Got<string | undefined> {
  const def = ctx.node.def as { prompt?: string; prompt_file?: string };
  if (def.prompt_file === undefined) return renderText(ctx, 'prompt');
  const named = ctx.render(def.prompt_file, ['prompt_file']);
  if (!named.ok) return { ok: false, result: stageError(expressionReason(named), `prompt_file: ${named.message}`) };
  // Against the file that declares it (a template ships its prompts), else the pipeline's folder.
  const declaredIn = (ctx.node.source as { dir?: string }).dir ?? path.dirname(ctx.pipeline.absPath);
  const file = path.resolve(declaredIn, asText(named.value));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, result: stageError({ kind: 'config' }, `prompt_file "${asText(named.value)}" cannot be read (${code === 'ENOENT' ? 'no such file' : code ?? String(err)})`) };
  }
  const r = ctx.render(text, ['prompt_file']);
  if (!r.ok) return { ok: false, result: stageError(expressionReason(r), `prompt_file "${asText(named.value)}": ${r.message}`) };
  return { ok: true, value: asText(r.value) };
}

export interface ContextFile {
  path: string;
  text: string;
}

/**
 * The `context` files: globs rendered, expanded in the workspace, each file resolved inside it.
 * A file of the holdout (a scenario) or a denied one (.env, .git) is never read: it is left
 * out with a warning on the stage's stderr, as is anything outside the workspace.
 */
export function contextFiles(ctx: StageContext, models: ModelServices): Got<ContextFile[]> {
  const raw = (ctx.node.def as { context?: unknown }).context;
  if (raw === undefined) return { ok: true, value: [] };
  const r = ctx.render(raw as JsonValue, ['context']);
  if (!r.ok) return { ok: false, result: stageError(expressionReason(r), `context: ${r.message}`) };
  const globs = (Array.isArray(r.value) ? r.value : [r.value]).flatMap((g) => (Array.isArray(g) ? g : [g])).map(asText).filter((g) => g !== '');
  const workspace = ctx.pipeline.dir;
  const out: ContextFile[] = [];
  const seen = new Set<string>();
  for (const rel of expandGlobs(globs, workspace)) {
    const confined = resolveInWorkspace(workspace, rel, { deny: models.holdout, mode: 'read' });
    if (!confined.ok) {
      warn(ctx, `context file ${rel} is not sent to the model: ${confined.message}`);
      continue;
    }
    if (seen.has(confined.rel)) continue;
    seen.add(confined.rel);
    let data: Buffer;
    try {
      if (!statSync(confined.abs).isFile()) continue;
      data = readFileSync(confined.abs);
    } catch {
      warn(ctx, `context file ${rel} cannot be read; left out`);
      continue;
    }
    if (isBinary(data)) {
      out.push({ path: confined.rel, text: `(binary file, ${data.length} bytes, not shown)` });
      continue;
    }
    const text = data.length > MAX_CONTEXT_FILE_BYTES ? `${data.subarray(0, MAX_CONTEXT_FILE_BYTES).toString('utf8')}\n… (cut: the file has ${data.length} bytes)` : data.toString('utf8');
    out.push({ path: confined.rel, text });
  }
  return { ok: true, value: out };
}

export function warn(ctx: StageContext, text: string): void {
  ctx.output('stderr', Buffer.from(`warning: ${text}\n`));
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function fileBlock(file: ContextFile): TextBlockParam {
  return { type: 'text', text: `<file path="${escapeAttr(file.path)}">\n${file.text}${file.text.endsWith('\n') ? '' : '\n'}</file>` };
}

/** The leading blocks of the opening message: the context files, then the learnings. */
export function leadingBlocks(input: Pick<ModelInput, 'files' | 'learnings'>): TextBlockParam[] {
  return [...input.files.map(fileBlock), ...input.learnings.map(learningBlock)];
}

/** The opening user message: context blocks first, the instruction last. */
export function openingMessage(leading: TextBlockParam[], instruction: string): MessageParam {
  return { role: 'user', content: [...leading, { type: 'text', text: instruction === '' ? '(no instruction)' : instruction }] };
}

/** model, max_tokens, temperature, effort, thinking and system of a stage's requests. */
export function baseRequest(models: ModelServices & { model: string }, system: string | undefined, messages: MessageParam[]): ModelRequest {
  const request: ModelRequest = { model: models.model, max_tokens: models.maxTokens, messages };
  if (system !== undefined && system !== '') request.system = system;
  // The SDK's types no longer list `temperature`; it is sent only when the pipeline sets it.
  if (models.temperature !== undefined) (request as unknown as Record<string, unknown>).temperature = models.temperature;
  if (models.effort !== undefined) request.output_config = { effort: models.effort };
  if (models.thinking !== undefined) request.thinking = thinkingParam(models.thinking);
  return request;
}

/** `thinking:` as the Messages API takes it. */
export function thinkingParam(thinking: Thinking): ThinkingConfigParam {
  if (thinking === 'adaptive') return { type: 'adaptive' };
  if (thinking === 'off') return { type: 'disabled' };
  return { type: 'enabled', budget_tokens: thinking };
}

/** The text blocks of an answer, joined. */
export function textOf(content: readonly ContentBlock[]): string {
  return content
    .filter((b) => b.type === 'text')
    .map((b) => (b as { text: string }).text)
    .join('')
    .trim();
}

/** The prompt file: what the stage asked, for people reading the record. */
export function promptRecord(parts: { system?: string | undefined; files: readonly ContextFile[]; learnings?: readonly Included[]; sections: readonly [string, string][] }): string {
  const out: string[] = [];
  if (parts.system) out.push(`## system\n\n${parts.system}\n`);
  if (parts.files.length > 0) out.push(`## context\n\n${parts.files.map((f) => `- ${f.path} (${Buffer.byteLength(f.text)} bytes)`).join('\n')}\n`);
  for (const [title, text] of [...learningsSection(parts.learnings ?? []), ...parts.sections]) out.push(`## ${title}\n\n${text}\n`);
  return out.join('\n');
}

/** A stage result from a failed model call. */
export function callFailure(failure: { reason: ModelCallReason; message: string }, outputs: Record<string, JsonValue> = {}): StageResult {
  return stageError(failure.reason, failure.message, outputs);
}
