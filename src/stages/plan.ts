import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { resolveInWorkspace } from '../workspace/confine.js';
import { writeFileAtomic } from '../records/atomic.js';
import {
  asText,
  baseRequest,
  callFailure,
  contextFiles,
  fileBlock,
  openingMessage,
  promptRecord,
  renderInstruction,
  renderText,
  servicesOf,
  stageError,
  textOf,
} from './model-input.js';
import type { StageExecutor } from '../engine/executor.js';
import { expressionReason } from '../engine/expressions.js';

/**
 * `kind: plan`: one model call without tools — `system`, the `context` files, the instruction —
 * whose text is the output `text`; `write: PATH` also writes it into the workspace (confined
 * like an agent's writes: never outside, never into .git, .factory, .env or the holdout).
 */
export const planExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const got = servicesOf(ctx);
    if (!got.ok) return got.result;
    const models = got.value;
    try {
      const system = renderText(ctx, 'system');
      if (!system.ok) return system.result;
      const instruction = renderInstruction(ctx);
      if (!instruction.ok) return instruction.result;
      const files = contextFiles(ctx, models);
      if (!files.ok) return files.result;
      const request = baseRequest(models, system.value, [openingMessage(files.value.map(fileBlock), instruction.value ?? '')]);
      models.writePrompt(promptRecord({ system: system.value, files: files.value, sections: [['prompt', instruction.value ?? '']] }));

      const answer = await models.call(request, { onText: (t) => ctx.output('stdout', Buffer.from(t)) });
      if (!answer.ok) return callFailure(answer, answer.response ? { text: textOf(answer.response.content) } : {});
      const text = textOf(answer.message.content);
      const outputs = { text };

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
