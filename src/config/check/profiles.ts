import { isRecord } from '../../base/is-record.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile, type PathSegment } from '../load/load.js';
import { didYouMean } from '../suggest.js';
import type { RawScope, RawStage } from './scopes.js';
import { LLM_KINDS } from '../stage-model.js';

/** Where a model setting of a stage comes from: the stage, then its profile, then `defaults` (docs/models-and-budgets.md). */
interface Source {
  value: unknown;
  at: PathSegment[];
}

/**
 * `profile:` names a profile of this file (or, for a template, one of its callers'), and a
 * thinking budget fits under the stage's max_tokens, as the Messages API requires.
 */
export function checkProfiles(loaded: LoadedFile, root: RawScope, outer: ReadonlySet<string>): Diagnostic[] {
  const config = isRecord(loaded.value) ? loaded.value : {};
  const profiles = isRecord(config.profiles) ? config.profiles : {};
  const defaults = isRecord(config.defaults) ? config.defaults : {};
  const known = new Set([...Object.keys(profiles), ...outer]);
  const out: Diagnostic[] = [];
  const unknown = (name: unknown, at: PathSegment[]) => {
    if (typeof name !== 'string' || known.has(name)) return;
    const hint = known.size ? `name one of the profiles under \`profiles:\`${didYouMean(name, known)}` : 'declare it under a top-level `profiles:` map, e.g. `profiles: { fast: { model: claude-haiku-4-5 } }`';
    out.push(diagnostic(loaded.file, locate(loaded, at), 'unknown-profile', `there is no profile "${name}"`, hint));
  };
  unknown(defaults.profile, ['defaults', 'profile']);
  for (const [name, p] of Object.entries(profiles)) if (isRecord(p)) out.push(...thinkingFits(loaded, [{ value: p.thinking, at: ['profiles', name, 'thinking'] }], [{ value: p.max_tokens, at: [] }], `profile "${name}"`));
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      if (LLM_KINDS.has(s.def.kind as string)) {
        unknown(s.def.profile, [...s.yamlPath, 'profile']);
        const chain = settingChain(s, profiles, defaults);
        out.push(...thinkingFits(loaded, chain('thinking'), chain('max_tokens'), `stage "${s.path}"`));
      }
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}

/** The places a stage's setting may come from, most specific first. */
function settingChain(s: RawStage, profiles: Record<string, unknown>, defaults: Record<string, unknown>): (key: string) => Source[] {
  const profileName = typeof s.def.profile === 'string' ? s.def.profile : typeof defaults.profile === 'string' ? defaults.profile : undefined;
  const profile = profileName !== undefined && isRecord(profiles[profileName]) ? profiles[profileName] : undefined;
  return (key) => [
    { value: s.def[key], at: [...s.yamlPath, key] },
    ...(profile ? [{ value: profile[key], at: ['profiles', profileName!, key] }] : []),
    { value: defaults[key], at: ['defaults', key] },
  ];
}

function thinkingFits(loaded: LoadedFile, thinking: Source[], maxTokens: Source[], who: string): Diagnostic[] {
  const t = thinking.find((s) => s.value !== undefined);
  const m = maxTokens.find((s) => s.value !== undefined);
  if (!t || typeof t.value !== 'number' || !m || typeof m.value !== 'number' || t.value < m.value) return [];
  return [diagnostic(loaded.file, locate(loaded, t.at), 'thinking-over-max-tokens', `${who} may think ${t.value} tokens but answer at most max_tokens ${m.value}: the thinking budget must be less than max_tokens`,
    `raise max_tokens above ${t.value}, or lower the thinking budget (at least 1024)`)];
}
