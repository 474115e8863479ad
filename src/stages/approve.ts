import type { ApproveStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { durationAsWritten } from '../base/duration.js';
import type { ShownValue } from '../engine/approvals/approvals.js';
import type { StageExecutor, StageResult } from '../engine/executor.js';
import { expressionReason } from '../engine/expressions.js';
import { unreachable } from '../base/unreachable.js';

/**
 * `kind: approve` (docs/configuration.md): a human decision. Renders `message` and `show`, then waits
 * for the answer the engine's approvals service gets (given in advance, recorded, typed on the
 * terminal, or written by `factory approve`). Approved: `succeeded`; rejected or timed out
 * (`on_timeout: reject`, the default — a gate fails closed): `failed` with reason `rejected`.
 * With `options`, any choice succeeds and `choice` says which; a timeout takes `default`, else fails.
 * Outputs `approved`, `choice`, `comment`, `by`, `at`. Holds no slot, is never retried, and applies its
 * own `timeout` (a timeout is an answer here, not an error).
 */
export const approveExecutor: StageExecutor = {
  holdsSlot: false,
  ownsTimeout: true,
  async run(ctx) {
    const def = ctx.node.def as ApproveStage;
    // The engine gives every run its approvals service: without it is a bug (`internal`, exit 70).
    if (!ctx.approvals) throw new Error(`the engine gave the approve stage "${ctx.node.path}" no approvals service`);

    let message = `Approve "${ctx.node.path}" to go on?`;
    if (typeof def.message === 'string') {
      const r = ctx.render(def.message, ['message']);
      if (!r.ok) return { status: 'error', reason: expressionReason(r), message: r.message, outputs: {} };
      message = asText(r.value).trim();
    }
    const show: ShownValue[] = [];
    for (const [i, expression] of (def.show ?? []).entries()) {
      const r = ctx.render(expression, ['show', i]);
      if (!r.ok) return { status: 'error', reason: expressionReason(r), message: r.message, outputs: {} };
      show.push({ label: labelOf(expression), value: r.value });
    }

    const options = def.options?.map((o) => ({ id: o.id, label: o.label, ...(o.description === undefined ? {} : { description: o.description }) }));
    const decision = await ctx.approvals.ask({ kind: 'approve', message, show, options, defaultChoice: def.default, timeoutMs: ctx.node.timeoutMs, reuse: true }, ctx.signal);
    switch (decision.status) {
      case 'cancelled':
        return { status: 'error', reason: { kind: 'cancelled' }, message: 'interrupted while waiting for an answer', outputs: {} };
      case 'unreadable':
        // A record that cannot be read is refused like bad input (exit 2), never taken as an answer.
        return { status: 'error', reason: { kind: 'config' }, message: `${decision.error}; remove it to be asked again`, outputs: {} };
      case 'timeout':
        return options ? choiceTimedOut(def, decision.afterMs) : approveTimedOut(def, decision.afterMs);
      case 'answered': {
        const a = decision.answer;
        const how = a.via === 'advance' ? ' in advance (apply --approve)' : '';
        const by = `by ${a.by ?? 'someone'}${how}${a.comment ? `: ${a.comment}` : ''}`;
        if (options) {
          const outputs: Record<string, JsonValue> = { approved: true, choice: a.choice ?? null, comment: a.comment, by: a.by, at: a.at };
          return { status: 'succeeded', message: `chose "${a.choice ?? '?'}" ${by}`, outputs };
        }
        const outputs: Record<string, JsonValue> = { approved: a.approved, comment: a.comment, by: a.by, at: a.at };
        const text = `${a.approved ? 'approved' : 'rejected'} ${by}`;
        const result: StageResult = a.approved ? { status: 'succeeded', message: text, outputs } : { status: 'failed', reason: { kind: 'rejected' }, message: text, outputs };
        return result;
      }
      default:
        return unreachable(decision, 'approval decision');
    }
  },
};

function approveTimedOut(def: ApproveStage, afterMs: number): StageResult {
  const approved = def.on_timeout === 'approve';
  const outputs: Record<string, JsonValue> = { approved, comment: null, by: null, at: new Date().toISOString() };
  const text = `no answer within ${durationAsWritten(afterMs)}: ${approved ? 'approved' : 'rejected'} (on_timeout: ${def.on_timeout ?? 'reject'})`;
  return approved ? { status: 'succeeded', message: text, outputs } : { status: 'failed', reason: { kind: 'rejected' }, message: text, outputs };
}

/** A choice not made in time: the `default` when there is one, else the gate fails closed. */
function choiceTimedOut(def: ApproveStage, afterMs: number): StageResult {
  const within = `no answer within ${durationAsWritten(afterMs)}`;
  const at = new Date().toISOString();
  if (def.default !== undefined) return { status: 'succeeded', message: `${within}: took the default "${def.default}"`, outputs: { approved: true, choice: def.default, comment: null, by: null, at } };
  return { status: 'failed', reason: { kind: 'rejected' }, message: `${within} and no \`default\`: no choice was made`, outputs: { approved: false, choice: null, comment: null, by: null, at } };
}

/** `${{ stages.review.outputs.findings }}` is shown as `stages.review.outputs.findings`. */
function labelOf(expression: string): string {
  const m = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(expression);
  return (m && !m[1]!.includes('${{') ? m[1]! : expression).trim();
}

function asText(value: JsonValue): string {
  if (typeof value === 'string') return value;
  if (value === null) return '';
  return JSON.stringify(value);
}
