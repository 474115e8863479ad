import { isRecord } from '../../base/is-record.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locate, type LoadedFile } from '../load/load.js';
import { didYouMean } from '../suggest.js';
import type { RawScope } from './scopes.js';

/**
 * An approve stage's `options` (docs/human-gates.md): ids are unique, `default` names one of
 * them, and `on_timeout`, which decides between approve and reject, is not mixed with choices.
 */
export function checkChoices(loaded: LoadedFile, root: RawScope): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (scope: RawScope) => {
    for (const s of scope.order) {
      if (s.def.kind === 'approve') out.push(...checkStage(loaded, s.def, s.yamlPath, s.path));
      if (s.body) visit(s.body);
    }
  };
  visit(root);
  return out;
}

function checkStage(loaded: LoadedFile, def: Record<string, unknown>, at: (string | number)[], stage: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const options = Array.isArray(def.options) ? def.options : undefined;
  const ids: string[] = [];
  options?.forEach((o, i) => {
    if (!isRecord(o) || typeof o.id !== 'string') return;
    if (ids.includes(o.id)) {
      out.push(diagnostic(loaded.file, locate(loaded, [...at, 'options', i, 'id']), 'duplicate-option', `stage "${stage}" offers the option "${o.id}" twice`, 'give each option its own id'));
    }
    ids.push(o.id);
  });
  if (typeof def.default === 'string') {
    if (!options) {
      out.push(diagnostic(loaded.file, locate(loaded, [...at, 'default'], 'key'), 'default-without-options', `stage "${stage}" has a \`default\` but no \`options\``,
        'add `options: [{id, label}, ...]`, or use `on_timeout: approve|reject` for a plain approve stage'));
    } else if (!ids.includes(def.default)) {
      out.push(diagnostic(loaded.file, locate(loaded, [...at, 'default']), 'unknown-option', `stage "${stage}" has no option "${def.default}"${didYouMean(def.default, ids)}`, `name one of its options: ${ids.join(', ')}`));
    }
  }
  if (options && def.on_timeout !== undefined) {
    out.push(diagnostic(loaded.file, locate(loaded, [...at, 'on_timeout'], 'key'), 'on-timeout-with-options', `stage "${stage}" offers options, so \`on_timeout\` does not apply`,
      'use `default: ID` to take a choice when the timeout passes, or leave it out to fail the stage'));
  }
  return out;
}
