import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { resolveInWorkspace } from '../workspace/confine.js';
import { writeFileAtomic } from '../records/atomic.js';
import {
  asText,
  baseRequest,
  callFailure,
  leadingBlocks,
  modelInput,
  openingMessage,
  promptRecord,
  servicesOf,
  stageError,
  textOf,
} from './model-input.js';
import type { StageExecutor } from '../engine/executor.js';
import type { JsonValue } from '../config/pipeline.js';
import { parseAnswer, type OutputCheck } from '../config/output-schema.js';
import { outputCheckOf } from './output-check.js';
import { expressionReason } from '../engine/expressions.js';

/**
 * `kind: plan`: one model call without tools — `system`, the `context` files, the instruction —
 * whose text is the output `text` (and, with `output_schema`, its value `json`, checked); `write: PATH` also writes it into the workspace (confined
 * like an agent's writes: never outside, never into .git, .factory, .env or the holdout).
 */
export const planExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const got = servicesOf(ctx);
    if (!got.ok) return got.result;
    const models = got.value;
    try {
      const input = modelInput(ctx, models);
      if (!input.ok) return input.result;
      const { system, instruction, files, learnings } = input.value;
      const request = baseRequest(models, system, [openingMessage(leadingBlocks(input.value), instruction ?? '')]);
      models.writePrompt(promptRecord({ system: system, files: files, learnings, sections: [['prompt', instruction ?? '']] }));

      const structured = outputCheckOf(ctx);
      if (!structured.ok) return stageError({ kind: 'config' }, structured.message);
      if (structured.value) request.output_config = { ...request.output_config, format: { type: 'json_schema', schema: structured.value.schema } };

      const onText = (t: string) => ctx.output('stdout', Buffer.from(t));
      const answer = await models.call(request, { onText });
      if (!answer.ok) return callFailure(answer, answer.response ? { text: textOf(answer.response.content) } : {});
      let text = textOf(answer.message.content);
      let outputs: Record<string, JsonValue> = { text };
      if (structured.value) {
        const { check } = structured.value;
        let judged = judgeAnswer(text, check);
        if (!judged.ok) {
          // One correction, charged like any call: the answer and what is wrong with it go back.
          const again = { ...request, messages: [...request.messages, { role: 'assistant' as const, content: answer.message.content }, { role: 'user' as const, content: correction(judged.errors) }] };
          const second = await models.call(again, { onText });
          if (!second.ok) return callFailure(second, { text });
          text = textOf(second.message.content);
          judged = judgeAnswer(text, check);
          if (!judged.ok) return stageError({ kind: 'output', cause: 'schema' }, `the answer does not match the output schema, also after one correction: ${judged.errors.join('; ')}`, { text });
        }
        outputs = { text, json: judged.value };
      }

      const write = (ctx.node.def as { write?: string }).write;
      if (write !== undefined) {
        const target = ctx.render(write, ['write']);
        if (!target.ok) return stageError(expressionReason(target), `write: ${target.message}`, outputs);
        const confined = resolveInWorkspace(ctx.pipeline.dir, asText(target.value), { deny: models.holdout, mode: 'write' });
        if (!confined.ok) return stageError({ kind: 'config' }, `write: ${confined.message}`, outputs);
        try {
          mkdirSync(path.dirname(confined.abs), { recursive: true });
        } catch {
          // reported by the write below
        }
        const written = writeFileAtomic(confined.abs, text.endsWith('\n') ? text : `${text}\n`);
        // The model answered; the file could not be written (a full disk, a folder in the way):
        // `write`, not `spawn` (nothing failed to start, and another attempt would pay for the answer again).
        if (!written.ok) return stageError({ kind: 'write', path: confined.abs }, `write: ${written.error}`, outputs);
      }
      return { status: 'succeeded', outputs };
    } finally {
      await models.flush();
    }
  },
};

/** The answer parsed as JSON and checked against the schema, whatever the provider claims. */
function judgeAnswer(text: string, check: OutputCheck): { ok: true; value: JsonValue } | { ok: false; errors: string[] } {
  const parsed = parseAnswer(text);
  if (!parsed.ok) return { ok: false, errors: [parsed.error] };
  const checked = check(parsed.value);
  return checked.ok ? { ok: true, value: parsed.value } : { ok: false, errors: checked.errors };
}

function correction(errors: readonly string[]): string {
  return `Your answer does not match the required output schema:\n${errors.map((e) => `- ${e}`).join('\n')}\nAnswer again with only the corrected JSON value.`;
}
