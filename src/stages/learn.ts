import type { MessageParam, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import type { LearnStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';
import { warningText, type Learning } from '../learnings/learning.js';
import { learningsDirOf } from '../config/learnings.js';
import { readStore, writeLearnings } from '../learnings/store.js';
import type { ModelResponse } from '../providers/types.js';
import { resolveInWorkspace } from '../workspace/confine.js';
import { judgeLearnings, SUBMIT_LEARNINGS, type Planned } from './learn-answer.js';
import { asText, baseRequest, callFailure, leadingBlocks, modelInput, openingMessage, promptRecord, servicesOf, stageError, warn } from './model-input.js';
import { outputCheckOf } from './output-check.js';

export const DEFAULT_LEARN_SYSTEM = [
  'You keep the lessons of a software factory: after a run, you write down what later runs should know.',
  'Keep only what is not obvious from the code: causes of failures and their fixes, conventions, traps.',
  'Answer only by calling the submit_learnings tool.',
].join(' ');

const DEFAULT_LEARN_PROMPT = 'Distill what this run taught into learnings for later runs: what made attempts fail and what fixed it, and what a newcomer to this code would have needed to know.';
const HOW = 'Answer by calling submit_learnings with a list of learnings, each with a short title in words, a body in Markdown, the files it is about (paths relative to the workspace) and a few tags. A learning with the title of an existing one replaces it. An empty list is a valid answer.';

/**
 * `kind: learn` (docs/learnings.md): one model call answered through the forced tool
 * `submit_learnings`; each learning becomes a Markdown file with front matter under
 * `learnings.dir` (the same title updates its file). The answer is checked as a whole first;
 * a bad one is sent back once with what was wrong, then the stage ends in `error` (reason
 * `output`) and nothing is written.
 */
export const learnExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const got = servicesOf(ctx);
    if (!got.ok) return got.result;
    const models = got.value;
    try {
      const input = modelInput(ctx, models);
      if (!input.ok) return input.result;
      const structured = outputCheckOf(ctx);
      if (!structured.ok) return stageError({ kind: 'config' }, structured.message);
      const workspace = ctx.pipeline.dir;
      const dir = learningsDirOf(ctx.pipeline.config);
      const confined = resolveInWorkspace(workspace, dir, { deny: models.holdout, mode: 'write' });
      if (!confined.ok) return stageError({ kind: 'config' }, `learnings.dir: ${confined.message}; choose a folder of the workspace outside .git, .factory and the scenarios, e.g. docs/learnings/`);
      const store = readStore(workspace, confined.rel);
      for (const w of store.warnings) warn(ctx, warningText(w));

      const { system, instruction, files, learnings } = input.value;
      const ask = [instruction || DEFAULT_LEARN_PROMPT, HOW].join('\n\n');
      const systemText = system ?? DEFAULT_LEARN_SYSTEM;
      const opening = openingMessage(leadingBlocks(input.value), ask);
      const request = { ...baseRequest(models, systemText, [opening]), tools: [SUBMIT_LEARNINGS], tool_choice: { type: 'tool' as const, name: 'submit_learnings' } };
      models.writePrompt(promptRecord({ system: systemText, files, learnings, sections: [['prompt', ask]] }));

      const rules = { workspace, dir: confined.rel, store, deny: models.holdout, ...(structured.value ? { schema: structured.value.check } : {}) };
      let messages: MessageParam[] = [opening];
      let problems: string[] = [];
      for (let round = 1; round <= 2; round++) {
        const answer = await models.call({ ...request, messages });
        if (!answer.ok) return callFailure(answer);
        const judged = judgeLearnings(answer.message, rules);
        if (judged.ok) return written(ctx, judged.learnings, judged.json);
        problems = judged.problems;
        models.note({ type: 'malformed', call: round, problem: problems.join('; ') });
        messages = [...messages, { role: 'assistant', content: answer.message.content as MessageParam['content'] }, correction(answer.message, problems)];
      }
      return stageError({ kind: 'output', cause: 'schema' }, `stage "${ctx.node.path}": the model's learnings could not be used, also after one correction, and none was written: ${problems.join('; ')}`);
    } finally {
      await models.flush();
    }
  },
};

/** Writes the checked learnings and returns the stage's outputs. */
function written(ctx: StageContext, planned: readonly Planned[], json: JsonValue): StageResult {
  const now = new Date().toISOString();
  const run = ctx.render('${{ run.id }}', ['kind']);
  const extra = (ctx.node.def as LearnStage).tags ?? [];
  const learnings: Learning[] = planned.map((p) => {
    const l: Learning = { title: p.title, tags: [...new Set([...extra, ...p.tags])], files: p.files, created: p.previous?.created ?? now, body: p.body, at: p.at, stage: ctx.node.path };
    if (p.previous) l.updated = now;
    if (run.ok) l.run = asText(run.value);
    return l;
  });
  const outputs: Record<string, JsonValue> = {
    learnings: learnings.map((l) => ({ title: l.title, file: l.at, updated: l.updated !== undefined })),
    files: learnings.map((l) => l.at),
    json,
    text: learnings.map((l) => `${l.title} (${l.at})`).join('\n'),
  };
  const done = writeLearnings(ctx.pipeline.dir, learnings);
  if (!done.ok) return stageError({ kind: 'write', path: done.path }, `learnings: ${done.path}: ${done.error}`, outputs);
  return { status: 'succeeded', outputs };
}

/** The user turn that tells the model what was wrong with its answer. */
function correction(message: ModelResponse, problems: readonly string[]): MessageParam {
  const text = `Your learnings could not be used:\n${problems.map((p) => `- ${p}`).join('\n')}\nCall submit_learnings again with a corrected answer.`;
  const uses = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
  if (uses.length === 0) return { role: 'user', content: text };
  return { role: 'user', content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: text, is_error: true })) };
}
