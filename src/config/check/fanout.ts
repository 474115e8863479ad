import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { expandMatrix, fanoutOf, renderPerCombination } from '../fanout.js';
import { locate, type LoadedFile } from '../load/load.js';
import type { JsonValue } from '../pipeline.js';
import type { RawScope, RawStage } from './scopes.js';
import { isRecord } from '../../base/is-record.js';

const PROVIDERS: readonly string[] = ['anthropic', 'openai', 'replay'];

/** Keys that only mean something on a stage with `matrix` or `for_each`. */
const FANOUT_ONLY = ['join', 'isolate', 'max_parallel'] as const;

/**
 * Fan-out rules the schema cannot say (section 13): `matrix` or `for_each`, not both; `for_each`
 * bounded by `max_items`; a matrix of 1 to 256 instances (expanded with the params known now);
 * join keys only on a stage that fans out; `isolate` on a kind that writes nothing is a warning.
 */
export function checkFanout(loaded: LoadedFile, scope: RawScope, params: Readonly<Record<string, JsonValue>>, paramsKnown: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of scope.order) {
    out.push(...checkStage(loaded, s, params, paramsKnown));
    if (s.body) out.push(...checkFanout(loaded, s.body, params, paramsKnown));
  }
  return out;
}

function checkStage(loaded: LoadedFile, s: RawStage, params: Readonly<Record<string, JsonValue>>, paramsKnown: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { def } = s;
  const at = (key: string, which: 'key' | 'value' = 'key') => locate(loaded, [...s.yamlPath, key], which);
  const hasMatrix = def.matrix !== undefined;
  const hasForEach = def.for_each !== undefined;
  if (hasMatrix && hasForEach) {
    out.push(diagnostic(loaded.file, at('for_each'), 'fanout-both', `stage "${s.path}" has both \`matrix\` and \`for_each\``, 'keep one: `matrix` for values known before the run, `for_each` for a list known only at run time'));
  }
  if (hasForEach && def.max_items === undefined) {
    out.push(diagnostic(loaded.file, at('for_each'), 'for-each-max-items', `stage "${s.path}" has \`for_each\` without \`max_items\``, 'add `max_items: N`, the most items the list may have: plan prices that many instances, and a longer list is an error'));
  }
  if (def.max_items !== undefined && !hasForEach) {
    out.push(diagnostic(loaded.file, at('max_items'), 'no-fanout', `stage "${s.path}" has \`max_items\` without \`for_each\``, 'remove `max_items`, or add `for_each: ${{ ... }}`'));
  }
  const providerExpr = typeof def.provider === 'string' && def.provider.includes('${{') ? def.provider : undefined;
  if (!hasMatrix && !hasForEach) {
    if (providerExpr !== undefined) {
      out.push(diagnostic(loaded.file, at('provider', 'value'), 'provider-expression', `stage "${s.path}" chooses its provider by an expression but runs once`, 'name the provider (anthropic, openai or replay); an expression such as ${{ matrix.provider }} is for a stage with `matrix:` or `for_each:`'));
    }
    for (const key of FANOUT_ONLY) {
      if (def[key] === undefined) continue;
      out.push(diagnostic(loaded.file, at(key), 'no-fanout', `stage "${s.path}" has \`${key}\` but runs once: it has neither \`matrix\` nor \`for_each\``, `remove \`${key}\`, or add \`matrix:\` or \`for_each:\` to run the stage as several instances`));
    }
    return out;
  }
  if (def.isolate === true && !canWrite(def)) {
    out.push(diagnostic(loaded.file, at('isolate'), 'isolate-no-writes', `stage "${s.path}" (${String(def.kind)}) writes no file: \`isolate\` copies the workspace for nothing`, 'remove `isolate: true`; instances that write nothing can share the workspace', 'warning'));
  }
  const spec = fanoutOf(def);
  if (spec?.matrix && paramsKnown && !hasForEach) {
    const expanded = expandMatrix(spec.matrix, params);
    if (!expanded.ok) {
      const pos = expanded.key === '' ? at('matrix') : locate(loaded, [...s.yamlPath, 'matrix', expanded.key], 'value');
      out.push(diagnostic(loaded.file, pos, 'matrix', `stage "${s.path}": ${expanded.message}`, expanded.hint));
    } else if (providerExpr !== undefined) {
      const unknown = renderPerCombination(providerExpr, expanded.combos, params).find((p) => p !== undefined && !PROVIDERS.includes(p));
      if (unknown !== undefined) {
        out.push(diagnostic(loaded.file, at('provider', 'value'), 'provider-expression', `stage "${s.path}": its matrix gives the provider "${unknown}", which does not exist`, `providers are ${PROVIDERS.join(', ')}`));
      }
    }
  }
  if (spec?.pick !== undefined && isRecord(def.join) && def.join.wait === 'first_success') {
    out.push(diagnostic(loaded.file, locate(loaded, [...s.yamlPath, 'join', 'pick'], 'key'), 'join-pick-first', `stage "${s.path}": \`join.pick\` with \`wait: first_success\` has only one instance to pick from`, 'remove `pick`, or wait for `all` and pick the best', 'warning'));
  }
  return out;
}

/** Kinds that never write to the workspace: a review, a gate, and a plan without `write`. */
function canWrite(def: Record<string, unknown>): boolean {
  if (def.kind === 'review' || def.kind === 'approve') return false;
  if (def.kind === 'plan') return def.write !== undefined;
  return true;
}
