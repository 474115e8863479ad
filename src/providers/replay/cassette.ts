import { readFileSync, statSync } from 'node:fs';
import { diagnostic, NO_POSITION, type Diagnostic } from '../../config/diagnostics.js';
import type { Cassette, CassetteCall } from '../../config/generated/cassette.js';
import { displayPath, parseYamlText } from '../../config/load/load.js';
import { validateAgainstSchema, validateValue } from '../../config/schema.js';
import type { CallKey } from '../types.js';
import { chainOf, compareIterations, innermost, iterationText, sameIteration, type Iteration } from '../../records/iteration.js';

export type { Cassette, CassetteCall } from '../../config/generated/cassette.js';

export type CassetteRead = { ok: true; cassette: Cassette; file: string } | { ok: false; diagnostics: Diagnostic[]; file: string };

/**
 * Reads a cassette: JSON as `--record` writes it (or YAML, for one written by hand), checked
 * against schemas/cassette.schema.json. Problems come back as diagnostics with line and column.
 * Valid JSON is read with JSON.parse, so a large recording costs no YAML parse; positions are
 * computed only when there is something to point at.
 */
export function readCassette(absPath: string, cwd = process.cwd()): CassetteRead {
  const file = displayPath(absPath, cwd);
  const fail = (message: string, hint?: string, code = 'cassette-missing'): CassetteRead => ({
    ok: false,
    file,
    diagnostics: [diagnostic(file, NO_POSITION, code, message, hint)],
  });
  let text: string;
  try {
    if (statSync(absPath).isDirectory()) return fail(`the cassette ${file} is a directory`, 'name a JSON file recorded with --record FILE', 'cassette-unreadable');
    text = readFileSync(absPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail(`no such cassette: ${file}`, 'record one with `factory apply --provider anthropic --record FILE`, or check providers.replay.cassette / --replay');
    return fail(`cannot read the cassette ${file}: ${code ?? String(err)}`, undefined, 'cassette-unreadable');
  }
  if (text.trim() === '') return fail(`the cassette ${file} is empty`, 'a cassette is `{"version": 1, "calls": [...]}`', 'cassette-empty');
  let value: unknown;
  let parsed = true;
  try {
    value = JSON.parse(text);
  } catch {
    parsed = false;
  }
  if (parsed && validateValue('cassette', value).length === 0) return { ok: true, cassette: value as Cassette, file };
  // Something to report (or a YAML cassette): parse again with positions.
  const loaded = parseYamlText(text, file, absPath);
  // The YAML hints speak of factory files; a cassette is JSON, so keep just the position and the problem.
  if (!loaded.ok) return { ok: false, file, diagnostics: loaded.diagnostics.map(({ hint: _hint, ...d }) => d) };
  const problems = validateAgainstSchema(loaded.loaded, 'cassette');
  if (problems.length > 0) return { ok: false, file, diagnostics: problems };
  return { ok: true, cassette: loaded.loaded.value as Cassette, file };
}

/** A call written without `iteration` is in no loop (docs/running.md): iteration 0. In nested loops, the chain (`[2, 1]`). */
export function iterationOf(entry: Pick<CassetteCall, 'iteration'>): Iteration {
  return entry.iteration ?? 0;
}

/** Whether a recorded call answers this key: same stage and iteration, then scenario and run for a judge, else call. */
export function answers(entry: Pick<CassetteCall, 'stage' | 'iteration' | 'call' | 'scenario' | 'run'>, key: CallKey): boolean {
  if (entry.stage !== key.stage || !sameIteration(iterationOf(entry), key.iteration)) return false;
  if (key.scenario !== undefined || entry.scenario !== undefined) {
    return entry.scenario === key.scenario && (entry.run ?? 1) === (key.run ?? 1) && entry.call === key.call;
  }
  return entry.call === key.call;
}

export function findCall(cassette: Cassette, key: CallKey): CassetteCall | undefined {
  return cassette.calls.find((entry) => answers(entry, key)) ?? innermostOnly(cassette, key);
}

/**
 * Cassettes recorded before iteration chains keyed a stage in nested loops by its innermost
 * iteration alone: such a call still answers (as it did then), when no call has the chain.
 */
function innermostOnly(cassette: Cassette, key: CallKey): CassetteCall | undefined {
  if (chainOf(key.iteration).length < 2) return undefined;
  const inner: CallKey = { ...key, iteration: innermost(key.iteration)! };
  return cassette.calls.find((entry) => typeof entry.iteration === 'number' && answers(entry, inner));
}

/** The stage paths a cassette has calls for, in their first order. */
export function recordedStages(cassette: Cassette): string[] {
  return [...new Set(cassette.calls.map((c) => c.stage))];
}

/** `stage "build.generate", iteration 2, call 3` (`iteration [2, 1]` in nested loops) — how messages name a call. */
export function describeKey(key: CallKey): string {
  const where = `stage "${key.stage}"${chainOf(key.iteration).length > 0 ? `, ${iterationText(key.iteration)}` : ''}`;
  if (key.scenario !== undefined) return `${where}, scenario "${key.scenario}" run ${key.run ?? 1}${key.call > 1 ? ` call ${key.call}` : ''}`;
  return `${where}, call ${key.call}`;
}

/** The entries in a stable order (stage, iteration, scenario, run, call), so re-recording gives small diffs. */
export function sortCalls(calls: readonly CassetteCall[]): CassetteCall[] {
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return [...calls].sort(
    (a, b) =>
      cmp(a.stage, b.stage) ||
      compareIterations(iterationOf(a), iterationOf(b)) ||
      cmp(a.scenario ?? '', b.scenario ?? '') ||
      (a.run ?? 0) - (b.run ?? 0) ||
      a.call - b.call,
  );
}

export function cassetteText(cassette: Cassette): string {
  return `${JSON.stringify(cassette, null, 2)}\n`;
}
