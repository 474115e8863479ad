import type { Tool, ToolUseBlock } from '@anthropic-ai/sdk/resources/messages';
import { compileOutputSchema, type OutputCheck } from '../config/output-schema.js';
import type { JsonValue } from '../config/pipeline.js';
import { titleKey } from '../learnings/file-name.js';
import type { LearningFile } from '../learnings/learning.js';
import { hashWorkspaceFile } from '../learnings/staleness.js';
import { placeLearning, type Store } from '../learnings/store.js';
import type { ModelResponse } from '../providers/types.js';
import { resolveInWorkspace } from '../workspace/confine.js';
import type { Matcher } from '../workspace/matcher.js';

/**
 * A learn stage's answer: the forced `submit_learnings` call, checked as a whole before a file is
 * written — its shape, the stage's `output_schema`, each title (a safe file name, no two alike),
 * and each file it names (inside the workspace, not denied, not a scenario, existing).
 */

export const SUBMIT_LEARNINGS: Tool = {
  name: 'submit_learnings',
  description: 'Submit what this run taught, as learnings for later runs: each with a short title, a Markdown body, the files it is about and tags.',
  input_schema: {
    type: 'object',
    properties: {
      learnings: {
        type: 'array',
        description: 'The learnings; an empty list when there is nothing worth keeping',
        items: {
          type: 'object',
          properties: {
            title: { type: 'string', minLength: 1, description: 'A short title in words; a learning with the title of an existing one replaces it' },
            body: { type: 'string', minLength: 1, description: 'What was learned and what to do about it, in Markdown' },
            files: { type: 'array', items: { type: 'string' }, description: 'Paths, relative to the workspace, of the files it is about' },
            tags: { type: 'array', items: { type: 'string' }, description: 'Short topic words' },
          },
          required: ['title', 'body', 'files', 'tags'],
        },
      },
    },
    required: ['learnings'],
  },
};

/** A learning of the answer, checked and placed: where it goes, and the hashes of its files now. */
export interface Planned {
  title: string;
  body: string;
  tags: string[];
  files: LearningFile[];
  at: string;
  previous?: { created: string };
}

export interface AnswerRules {
  workspace: string;
  /** The learnings folder, relative to the workspace. */
  dir: string;
  store: Store;
  /** The holdout and the always-denied paths. */
  deny: Matcher;
  /** The stage's `output_schema`, when it has one. */
  schema?: OutputCheck;
}

export type Judged = { ok: true; learnings: Planned[]; json: JsonValue } | { ok: false; problems: string[] };

let shape: OutputCheck | undefined;

export function judgeLearnings(message: Pick<ModelResponse, 'content'>, rules: AnswerRules): Judged {
  const use = message.content.find((b): b is ToolUseBlock => b.type === 'tool_use' && b.name === 'submit_learnings');
  if (!use) return { ok: false, problems: ['it did not call the submit_learnings tool'] };
  const input = use.input as JsonValue;
  shape ??= (compileOutputSchema(SUBMIT_LEARNINGS.input_schema as unknown as Record<string, JsonValue>) as { ok: true; check: OutputCheck }).check;
  for (const check of [shape, rules.schema]) {
    const checked = check?.(input);
    if (checked && !checked.ok) return { ok: false, problems: checked.errors };
  }
  const items = (input as { learnings: { title: string; body: string; files: string[]; tags: string[] }[] }).learnings;
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const taken = new Set<string>();
  const out: Planned[] = [];
  items.forEach((item, i) => {
    const at = `learnings[${i}]`;
    const first = seen.get(titleKey(item.title));
    if (first !== undefined) {
      problems.push(`${at} has the same title as learnings[${first}] (${JSON.stringify(item.title)}): merge them into one learning or give them different titles`);
      return;
    }
    seen.set(titleKey(item.title), i);
    const placed = placeLearning(rules.store, rules.dir, item.title, taken);
    if (!placed.ok) {
      problems.push(`${at}.title: ${placed.message}`);
      return;
    }
    taken.add(placed.at);
    const files = filesOf(item.files, at, rules, problems);
    const tags = [...new Set(item.tags.map((t) => t.trim()).filter((t) => t !== ''))];
    const planned: Planned = { title: item.title.trim(), body: item.body, tags, files, at: placed.at };
    if (placed.previous) planned.previous = { created: placed.previous.created };
    out.push(planned);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, learnings: out, json: input };
}

/** Each named file confined like an agent's read, and hashed as it is now. */
function filesOf(paths: readonly string[], at: string, rules: AnswerRules, problems: string[]): LearningFile[] {
  const out: LearningFile[] = [];
  paths.forEach((p, j) => {
    const confined = resolveInWorkspace(rules.workspace, p, { deny: rules.deny, mode: 'read' });
    if (!confined.ok) {
      problems.push(`${at}.files[${j}]: ${confined.message}; name only files of the workspace that are not scenarios`);
      return;
    }
    const sha256 = hashWorkspaceFile(rules.workspace, confined.rel);
    if (sha256 === undefined) {
      problems.push(`${at}.files[${j}]: ${JSON.stringify(p)} is not a file of the workspace; name files that exist`);
      return;
    }
    if (!out.some((f) => f.path === confined.rel)) out.push({ path: confined.rel, sha256 });
  });
  return out;
}
