import type { ApproveStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { durationAsWritten } from '../base/duration.js';
import type { ShownValue } from '../engine/approvals/approvals.js';
import type { StageExecutor, StageResult } from '../engine/executor.js';

/**
 * `kind: approve` (docs/configuration.md): a human decision. Renders `message` and `show`, then waits
 * for the answer the engine's approvals service gets (given in advance, recorded, typed on the
 * terminal, or written by `factory approve`). Approved: `succeeded`; rejected or timed out
 * (`on_timeout: reject`, the default — a gate fails closed): `failed` with reason `rejected`.
 * Outputs `approved`, `comment`, `by`, `at`. Holds no slot, is never retried, and applies its
 * own `timeout` (a timeout is an answer here, not an error).
 */
export const approveExecutor: StageExecutor = {
  holdsSlot: false,
  ownsTimeout: true,
  async run(ctx) {
    const def = ctx.node.def as ApproveStage;
    if (!ctx.approvals) return { status: 'error', reason: 'config', message: 'internal error: this run cannot ask for approvals', outputs: {} };

    let message = `Approve "${ctx.node.path}" to go on?`;
    if (typeof def.message === 'string') {
      const r = ctx.render(def.message, ['message']);
      if (!r.ok) return { status: 'error', reason: 'expression', message: r.message, outputs: {} };
      message = asText(r.value).trim();
    }
    const show: ShownValue[] = [];
    for (const [i, expression] of (def.show ?? []).entries()) {
      const r = ctx.render(expression, ['show', i]);
      if (!r.ok) return { status: 'error', reason: 'expression', message: r.message, outputs: {} };
      show.push({ label: labelOf(expression), value: r.value });
    }

    const decision = await ctx.approvals.ask({ kind: 'approve', message, show, timeoutMs: ctx.node.timeoutMs, reuse: true }, ctx.signal);
    switch (decision.status) {
      case 'cancelled':
        return { status: 'error', reason: 'cancelled', message: 'interrupted while waiting for an answer', outputs: {} };
      case 'unreadable':
        // A record that cannot be read is refused like bad input (exit 2), never taken as an answer.
        return { status: 'error', reason: 'config', message: `${decision.error}; remove it to be asked again`, outputs: {} };
      case 'timeout': {
        const approved = def.on_timeout === 'approve';
        const outputs: Record<string, JsonValue> = { approved, comment: null, by: null, at: new Date().toISOString() };
        const text = `no answer within ${durationAsWritten(decision.afterMs)}: ${approved ? 'approved' : 'rejected'} (on_timeout: ${def.on_timeout ?? 'reject'})`;
        return approved ? { status: 'succeeded', message: text, outputs } : { status: 'failed', reason: 'rejected', message: text, outputs };
      }
      case 'answered': {
        const a = decision.answer;
        const outputs: Record<string, JsonValue> = { approved: a.approved, comment: a.comment, by: a.by, at: a.at };
        const how = a.via === 'advance' ? ' in advance (apply --approve)' : '';
        const text = `${a.approved ? 'approved' : 'rejected'} by ${a.by ?? 'someone'}${how}${a.comment ? `: ${a.comment}` : ''}`;
        const result: StageResult = a.approved ? { status: 'succeeded', message: text, outputs } : { status: 'failed', reason: 'rejected', message: text, outputs };
        return result;
      }
    }
  },
};

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
