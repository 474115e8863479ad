import type { ModelRequest, ModelResponse } from '../providers/types.js';
import type { Verdict } from './judge-cache.js';
import type { Usage } from '../base/usage.js';

export const SUBMIT_SCORE = 'submit_score';

/** The one tool a judge must call (forced with tool_choice), with the fields of docs/configuration.md. */
export const SUBMIT_SCORE_TOOL = {
  name: SUBMIT_SCORE,
  description: 'Submit your score of the transcript against the rubric.',
  input_schema: {
    type: 'object' as const,
    properties: {
      score: { type: 'number', minimum: 0, maximum: 1, description: 'How well the transcript satisfies the rubric, from 0 (not at all) to 1 (fully).' },
      reason: { type: 'string', description: 'One or two sentences on why.' },
    },
    required: ['score', 'reason'],
  },
};

const SYSTEM =
  'You judge the behaviour of a program from a transcript of commands run against it and their output. ' +
  'Score how well the transcript satisfies the rubric, from 0 to 1, and give a short reason. ' +
  `Answer only by calling the tool ${SUBMIT_SCORE}.`;

/** The judge's request: the rubric and the steps' transcript, the answer forced through `submit_score`. */
export function judgeRequest(model: string, maxTokens: number, rubric: string, transcript: string): ModelRequest {
  const request: ModelRequest = {
    model,
    max_tokens: maxTokens,
    system: SYSTEM,
    tools: [SUBMIT_SCORE_TOOL],
    tool_choice: { type: 'tool', name: SUBMIT_SCORE },
    messages: [{ role: 'user', content: `Rubric:\n${rubric}\n\nTranscript:\n${transcript}` }],
  };
  return request;
}

/** The verdict in a judge's answer, or why it is malformed. */
export function parseVerdict(message: ModelResponse): { ok: true; verdict: Verdict } | { ok: false; message: string } {
  const call = message.content.find((b) => b.type === 'tool_use' && b.name === SUBMIT_SCORE);
  if (!call || call.type !== 'tool_use') return { ok: false, message: `the judge did not call ${SUBMIT_SCORE}` };
  const input = call.input as { score?: unknown; reason?: unknown } | null;
  const score = input?.score;
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
    return { ok: false, message: `the judge's ${SUBMIT_SCORE} has no score between 0 and 1 (got ${score === undefined ? 'nothing' : JSON.stringify(score)})` };
  }
  const reason = typeof input?.reason === 'string' ? input.reason : '';
  return { ok: true, verdict: { score, reason } };
}

/** One model call as the judge needs it: through the stage's model services (budgeted, recorded), or a provider. */
export type JudgeCall = (request: ModelRequest, key: { scenario: string; run: number }) => Promise<JudgeCallResult>;

export type JudgeCallResult =
  | { ok: true; message: ModelResponse; usage: Usage; cost_usd: number }
  | { ok: false; reason: 'provider' | 'budget' | 'cancelled' | 'output' | 'config'; message: string; usage?: Usage; cost_usd?: number };

export type JudgeOutcome =
  | { ok: true; verdict: Verdict; cached: boolean }
  | { ok: false; reason: 'provider' | 'budget' | 'cancelled' | 'output' | 'config'; message: string };

/** Asks the judge; a malformed answer is asked once more, then it is an error. */
export async function askJudge(call: JudgeCall, request: ModelRequest, key: { scenario: string; run: number }): Promise<JudgeOutcome> {
  let malformed = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const answer = await call(request, key);
    if (!answer.ok) return { ok: false, reason: answer.reason, message: answer.message };
    const parsed = parseVerdict(answer.message);
    if (parsed.ok) return { ok: true, verdict: parsed.verdict, cached: false };
    malformed = parsed.message;
  }
  return { ok: false, reason: 'provider', message: `${malformed}, twice (the answer was asked for again once)` };
}
