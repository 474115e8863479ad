import type { MessageParam, TextBlockParam, Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { isDenied } from '../workspace/confine.js';
import type { ReviewStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { unifiedDiff } from '../workspace/snapshot.js';
import type { ModelResponse } from '../providers/types.js';
import {
  baseRequest,
  callFailure,
  leadingBlocks,
  modelInput,
  openingMessage,
  promptRecord,
  renderText,
  servicesOf,
  stageError,
} from './model-input.js';
import type { StageExecutor, StageResult } from '../engine/executor.js';

export const DEFAULT_APPROVE_THRESHOLD = 0.8;
/** A diff longer than this is cut, with a note saying so. */
export const MAX_DIFF_CHARS = 400_000;

export const DEFAULT_REVIEW_SYSTEM = [
  'You are a careful code reviewer.',
  'Judge the change against the rubric and the context you are given; report concrete findings with their file and line.',
  'Answer only by calling the submit_review tool.',
].join(' ');

const SEVERITIES = ['info', 'minor', 'major', 'critical'] as const;
type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  severity: Severity;
  file: string | null;
  line: number | null;
  message: string;
}

export interface Review {
  verdict: 'approve' | 'request_changes';
  score: number;
  findings: Finding[];
  summary: string;
}

/** The forced tool: the review's structured answer (docs/configuration.md). */
export const SUBMIT_REVIEW: Tool = {
  name: 'submit_review',
  description: 'Submit the review of the change: a verdict, a score from 0 to 1, the findings and a summary.',
  input_schema: {
    type: 'object',
    properties: {
      verdict: { type: 'string', enum: ['approve', 'request_changes'], description: 'approve, or request_changes' },
      score: { type: 'number', minimum: 0, maximum: 1, description: 'How well the change meets the rubric, from 0 to 1' },
      findings: {
        type: 'array',
        description: 'Problems found, most severe first',
        items: {
          type: 'object',
          properties: {
            severity: { type: 'string', enum: [...SEVERITIES] },
            file: { type: 'string', description: 'Path relative to the workspace' },
            line: { type: 'integer', minimum: 1 },
            message: { type: 'string' },
          },
          required: ['severity', 'message'],
        },
      },
      summary: { type: 'string', description: 'The review in a few sentences' },
    },
    required: ['verdict', 'score', 'findings', 'summary'],
  },
};

/**
 * `kind: review`: the change since the run started (the engine's snapshot: new and git-ignored
 * files included, the holdout left out) with the `context` files and the `rubric`, answered by
 * a forced `submit_review` call. A malformed answer is sent back once with what was wrong; a
 * second one ends the stage in `error`. Not approved is `failed` (reason `review`).
 */
export const reviewExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const got = servicesOf(ctx);
    if (!got.ok) return got.result;
    const models = got.value;
    const def = ctx.node.def as ReviewStage;
    try {
      const input = modelInput(ctx, models);
      if (!input.ok) return input.result;
      const rubric = renderText(ctx, 'rubric');
      if (!rubric.ok) return rubric.result;
      const { system, instruction, files } = input.value;

      const blocks: TextBlockParam[] = leadingBlocks(input.value);
      let diff: string | undefined;
      if (def.diff !== false) {
        diff = unifiedDiff(models.runStart(), models.snapshot(), (rel) => isDenied(rel, models.holdout));
        if (diff.length > MAX_DIFF_CHARS) diff = `${diff.slice(0, MAX_DIFF_CHARS)}\n… (the diff was cut at ${MAX_DIFF_CHARS} characters)\n`;
        blocks.push({ type: 'text', text: diff === '' ? '<diff>\n(no file in the workspace changed since the run started)\n</diff>' : `<diff>\n${diff}</diff>` });
      }
      const ask = [
        def.diff === false ? 'Review the work described by the context above.' : 'Review the change to the workspace shown in the diff above.',
        rubric.value ? `Rubric: ${rubric.value}` : undefined,
        instruction,
        'Answer by calling submit_review with a verdict (approve or request_changes), a score from 0 to 1, your findings (each with a severity — info, minor, major or critical — the file, the line and a message) and a summary.',
      ]
        .filter((s) => s !== undefined && s !== '')
        .join('\n\n');
      const systemText = system ?? DEFAULT_REVIEW_SYSTEM;
      const opening = openingMessage(blocks, ask);
      const request = { ...baseRequest(models, systemText, [opening]), tools: [SUBMIT_REVIEW], tool_choice: { type: 'tool' as const, name: 'submit_review' } };
      models.writePrompt(
        promptRecord({ system: systemText, files: files, learnings: input.value.learnings, sections: [...(diff !== undefined ? [['diff', diff || '(no change)'] as [string, string]] : []), ['prompt', ask]] }),
      );

      let messages: MessageParam[] = [opening];
      let problem = '';
      for (let round = 1; round <= 2; round++) {
        const answer = await models.call({ ...request, messages });
        if (!answer.ok) return callFailure(answer);
        const parsed = parseReview(answer.message);
        if (parsed.ok) return verdictResult(parsed.review, def);
        problem = parsed.problem;
        models.note({ type: 'malformed', call: round, problem });
        messages = [...messages, { role: 'assistant', content: answer.message.content as MessageParam['content'] }, correction(answer.message, problem)];
      }
      return stageError({ kind: 'review', malformed: true }, `the model's review was malformed twice: ${problem}`);
    } finally {
      await models.flush();
    }
  },
};

/** The user turn that tells the model what was wrong with its answer. */
function correction(message: ModelResponse, problem: string): MessageParam {
  const text = `Your answer could not be used: ${problem}. Call submit_review again with a valid input.`;
  const uses = message.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
  if (uses.length === 0) return { role: 'user', content: text };
  return { role: 'user', content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: text, is_error: true })) };
}

type Parsed = { ok: true; review: Review } | { ok: false; problem: string };

/** The submit_review input, checked field by field; the first problems found are named. */
export function parseReview(message: Pick<ModelResponse, 'content'>): Parsed {
  const use = message.content.find((b): b is ToolUseBlock => b.type === 'tool_use' && b.name === 'submit_review');
  if (!use) return { ok: false, problem: 'it did not call the submit_review tool' };
  const input = use.input as Record<string, unknown> | null;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, problem: 'the submit_review input is not an object' };
  const problems: string[] = [];
  const verdict = input.verdict;
  if (verdict !== 'approve' && verdict !== 'request_changes') problems.push(`"verdict" must be "approve" or "request_changes", got ${verdict === undefined ? 'nothing' : JSON.stringify(verdict)}`);
  const score = input.score;
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) problems.push(`"score" must be a number from 0 to 1, got ${score === undefined ? 'nothing' : JSON.stringify(score)}`);
  const summary = input.summary;
  if (typeof summary !== 'string') problems.push('"summary" must be a string');
  const findings: Finding[] = [];
  if (!Array.isArray(input.findings)) {
    problems.push('"findings" must be a list (empty when there is nothing to report)');
  } else {
    input.findings.forEach((f: unknown, i: number) => {
      const at = `findings[${i}]`;
      if (typeof f !== 'object' || f === null || Array.isArray(f)) {
        problems.push(`${at} must be an object`);
        return;
      }
      const x = f as Record<string, unknown>;
      if (!SEVERITIES.includes(x.severity as Severity)) problems.push(`${at}.severity must be one of ${SEVERITIES.join(', ')}, got ${x.severity === undefined ? 'nothing' : JSON.stringify(x.severity)}`);
      if (typeof x.message !== 'string' || x.message === '') problems.push(`${at}.message must be a non-empty string`);
      if (x.file !== undefined && x.file !== null && typeof x.file !== 'string') problems.push(`${at}.file must be a string`);
      const line = typeof x.line === 'string' && /^\d+$/.test(x.line) ? Number(x.line) : x.line;
      if (line !== undefined && line !== null && !(typeof line === 'number' && Number.isInteger(line) && line >= 0)) problems.push(`${at}.line must be a line number`);
      findings.push({
        severity: x.severity as Severity,
        file: typeof x.file === 'string' ? x.file : null,
        line: typeof line === 'number' ? line : null,
        message: typeof x.message === 'string' ? x.message : '',
      });
    });
  }
  if (problems.length > 0) return { ok: false, problem: problems.slice(0, 5).join('; ') };
  return { ok: true, review: { verdict: verdict as Review['verdict'], score: score as number, findings, summary: summary as string } };
}

function rank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

function verdictResult(review: Review, def: ReviewStage): StageResult {
  const threshold = def.approve_threshold ?? DEFAULT_APPROVE_THRESHOLD;
  const tripped = def.fail_on ? review.findings.filter((f) => rank(f.severity) >= rank(def.fail_on!)) : [];
  const approved = review.verdict === 'approve' && review.score >= threshold && tripped.length === 0;
  const lines = review.findings.map((f) => `- [${f.severity}] ${f.file ?? ''}${f.file && f.line ? `:${f.line}` : ''}${f.file ? ' ' : ''}${f.message}`);
  const text = lines.length > 0 ? `${review.summary}\n\n${lines.join('\n')}` : review.summary;
  const outputs: Record<string, JsonValue> = {
    verdict: review.verdict,
    approved,
    score: review.score,
    findings: review.findings as unknown as JsonValue,
    text,
  };
  if (approved) return { status: 'succeeded', outputs };
  const why: string[] = [];
  if (review.verdict !== 'approve') why.push('the reviewer requested changes');
  if (review.score < threshold) why.push(`score ${review.score} is below approve_threshold ${threshold}`);
  if (tripped.length > 0) why.push(`${tripped.length} finding${tripped.length === 1 ? '' : 's'} at or above fail_on (${def.fail_on})`);
  return { status: 'failed', reason: { kind: 'review', malformed: false }, message: `not approved: ${why.join('; ')}`, outputs };
}
