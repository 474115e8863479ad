import { canonicalJson, type FileHash, type FingerprintParts } from './cache/fingerprint.js';
import type { JsonValue } from '../config/pipeline.js';

/**
 * Why a stage's fingerprint differs from the one of its last cached result, in a few words:
 * which files changed (or appeared, or went), which upstream stage changed, or that its
 * definition, model or reviewed diff did. `name` turns a need's id into the path to show.
 */
export function explainMiss(now: FingerprintParts, before: FingerprintParts | undefined, name: (id: string) => string = (id) => id): string {
  if (!before || typeof before !== 'object') return 'no earlier result';
  const reasons: string[] = [];
  const files = fileChanges(now.files, Array.isArray(before.files) ? before.files : []);
  if (files.length) reasons.push(listed(files));
  const needsNow = now.needs;
  const needsBefore = (before as Partial<FingerprintParts>).needs ?? {}; // read from disk: an older entry may lack it
  const upstream = [...new Set([...Object.keys(needsNow), ...Object.keys(needsBefore)])].filter((id) => needsNow[id] !== needsBefore[id]).sort();
  if (upstream.length) reasons.push(`upstream ${upstream.map(name).join(', ')} changed`);
  const defNow = asRecord(now.definition);
  const defBefore = asRecord(before.definition);
  const { stage: rawNow, ...restNow } = defNow;
  const { stage: rawBefore, ...restBefore } = defBefore;
  if (canonicalJson(rawNow ?? null) !== canonicalJson(rawBefore ?? null)) reasons.push('its definition changed');
  else if (canonicalJson(restNow) !== canonicalJson(restBefore) && upstream.length === 0) reasons.push('values its definition reads changed (params or env)');
  if ((now.model ?? null) !== (before.model ?? null)) reasons.push(`the model changed${now.model && before.model && !now.model.startsWith('{') ? ` (${before.model} → ${now.model})` : ''}`);
  const { learnings: learnedNow, ...extraNow } = now.extra ?? {};
  const { learnings: learnedBefore, ...extraBefore } = before.extra ?? {};
  if ((learnedNow ?? null) !== (learnedBefore ?? null)) reasons.push('the learnings it reads changed');
  if (canonicalJson(extraNow) !== canonicalJson(extraBefore)) reasons.push(now.kind === 'review' ? 'the diff it reviews changed' : 'what it depends on changed');
  return reasons.length ? reasons.join('; ') : 'its fingerprint changed';
}

function asRecord(value: unknown): Record<string, JsonValue> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, JsonValue>) : {};
}

function fileChanges(now: readonly FileHash[], before: readonly FileHash[]): string[] {
  const was = new Map(before.map((f) => [f.path, f.hash]));
  const is = new Map(now.map((f) => [f.path, f.hash]));
  const out: string[] = [];
  for (const [p, h] of is) {
    const old = was.get(p);
    if (old === undefined) out.push(`${show(p)} added`);
    else if (old !== h) out.push(`${show(p)} changed`);
  }
  for (const p of was.keys()) if (!is.has(p)) out.push(`${show(p)} removed`);
  return out;
}

function show(p: string): string {
  return p.startsWith('prompt_file:') ? p.slice('prompt_file:'.length) : p;
}

function listed(items: string[]): string {
  return items.length > 3 ? `${items.slice(0, 3).join(', ')} (+${items.length - 3} more)` : items.join(', ');
}
