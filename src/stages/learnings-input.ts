import type { TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { JsonValue } from '../config/pipeline.js';
import type { StageContext } from '../engine/executor.js';
import type { ModelServices } from '../engine/models/services.js';
import { learningsForStage } from '../learnings/for-stage.js';
import { warningText } from '../learnings/learning.js';
import { learningsUseOf, type Included } from '../learnings/select.js';
import { learningsDirOf } from '../config/learnings.js';

/**
 * A model stage's `learnings:` (docs/learnings.md): the relevant learnings, chosen as its
 * fingerprint chose them, go into the prompt after the context files, each in a `<learning>`
 * block (marked stale when it is); the prompt record and the transcript name them.
 */

export function stageLearnings(ctx: StageContext, models: ModelServices): Included[] {
  const def = ctx.node.def as unknown as Record<string, JsonValue | undefined>;
  if (def.learnings === undefined) return [];
  const use = learningsUseOf(def.learnings);
  if (!use) return [];
  const values: Record<string, JsonValue> = {};
  for (const key of ['context', 'inputs', 'writes']) {
    const raw = def[key];
    if (raw === undefined) continue;
    const r = ctx.render(raw, [key]);
    // A context that cannot be rendered ends the stage where the context files are read.
    if (r.ok) values[key] = r.value;
  }
  const { included, warnings } = learningsForStage(ctx.pipeline.dir, learningsDirOf(ctx.pipeline.config), use, values);
  for (const w of warnings) ctx.output('stderr', Buffer.from(`warning: ${warningText(w)}\n`));
  models.note({ type: 'learnings', included: included.map((i) => ({ title: i.learning.title, file: i.learning.at, stale: i.freshness.stale })) });
  return included;
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function learningBlock(i: Included): TextBlockParam {
  const l = i.learning;
  const attrs = [`title="${escapeAttr(l.title)}"`, `file="${escapeAttr(l.at)}"`, `written="${escapeAttr(l.updated ?? l.created)}"`];
  if (l.files.length > 0) attrs.push(`about="${escapeAttr(l.files.map((f) => f.path).join(' '))}"`);
  if (i.freshness.stale) attrs.push(`stale="true" changed="${escapeAttr(i.freshness.changed.join(' '))}"`);
  const note = i.freshness.stale ? '(stale: a file it is about changed since it was written; check it before relying on it)\n' : '';
  return { type: 'text', text: `<learning ${attrs.join(' ')}>\n${note}${l.body}\n</learning>` };
}

/** The prompt record's section: one line per learning included, fresh or stale. */
export function learningsSection(included: readonly Included[]): [string, string][] {
  if (included.length === 0) return [];
  return [['learnings', included.map((i) => `- ${i.learning.title} (${i.learning.at}, ${i.freshness.stale ? `stale: ${i.freshness.changed.join(', ')} changed` : 'fresh'})`).join('\n')]];
}
