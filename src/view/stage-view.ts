import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isRecord } from '../base/is-record.js';
import { iterationKey } from '../records/iteration.js';
import { logFile, stageBase, stagesDir } from '../records/paths.js';
import { ZERO_USAGE } from '../base/usage.js';
import type { FollowedRun } from './followed-runs.js';
import type { ScenarioRow, StagePayload, Status } from './model.js';
import { placedEntries } from './run-view.js';
import { stageDiff } from './stage-diff.js';
import { transcriptTurns } from './transcript-turns.js';

/** Output and transcripts bigger than this are cut (the start kept), so a page stays a page. */
const CAP = 2_000_000;

/**
 * One stage of a run (its last iteration unless `iteration` names one): its record entry and the
 * files beside it — prompt, transcript as turns, diff, review findings, scenario results, stdout
 * and stderr. undefined when the run has no such stage (or iteration).
 */
export function stagePayload(run: FollowedRun & { ok: true }, stagePath: string, iteration: string | undefined): StagePayload | undefined {
  const placed = placedEntries(run.record.stages).filter((p) => p.path === stagePath);
  const chosen = iteration === undefined ? placed.at(-1) : placed.find((p) => p.iteration !== undefined && iterationKey(p.iteration) === iteration);
  const announced = run.announced.find((a) => a.path === stagePath);
  if (!chosen && !announced) return undefined;
  if (!chosen && iteration !== undefined) return undefined;
  const it = chosen?.iteration;
  const s = chosen?.s;
  const base = path.join(stagesDir(run.dir), stageBase(stagePath, it));
  const transcriptText = readCapped(`${base}.transcript.jsonl`);
  const transcript = transcriptText === null ? [] : transcriptTurns(transcriptText);
  const kind = run.stages.find((f) => f.path === stagePath)?.kind ?? announced?.kind ?? 'stage';
  const outputs = s?.outputs ?? {};
  return {
    run: run.id,
    path: stagePath,
    kind,
    ...(it === undefined ? {} : { iteration: iterationKey(it) }),
    iterations: placed.flatMap((p) => (p.iteration === undefined ? [] : [iterationKey(p.iteration)])),
    status: (s ? s.status : run.record.status === 'running' ? 'pending' : 'skipped') as Status,
    reason: s?.reason ?? null,
    message: s?.message ?? null,
    started_at: s?.started_at ?? null,
    ended_at: s?.ended_at ?? null,
    attempts: s?.attempts ?? 0,
    cached: s?.cached ?? false,
    usage: s?.usage ?? ZERO_USAGE,
    cost_usd: s?.cost_usd ?? 0,
    outputs,
    prompt: readCapped(`${base}.prompt.md`),
    transcript,
    diff: stageDiff(run.dir, stagePath, transcript),
    findings: Array.isArray(outputs.findings) ? (outputs.findings.filter(isRecord) as StagePayload['findings']) : [],
    scenarios: scenarioRows(`${base}.scenarios.json`),
    stdout: readCapped(logFile(run.dir, stagePath, 'stdout', it)),
    stderr: readCapped(logFile(run.dir, stagePath, 'stderr', it)),
  };
}

function readCapped(file: string): string | null {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > CAP ? `${text.slice(0, CAP)}\n… (cut at ${CAP} characters; the whole file is ${file})` : text;
  } catch {
    return null;
  }
}

/** `<path>[@i].scenarios.json`: each scenario, passed or not, with every failure of its runs. */
function scenarioRows(file: string): ScenarioRow[] {
  const text = readCapped(file);
  if (text === null) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isRecord(doc) || !Array.isArray(doc.scenarios)) return [];
  return doc.scenarios.filter(isRecord).map((sc) => {
    const runs = Array.isArray(sc.runs) ? sc.runs.filter(isRecord) : [];
    const failures = runs.flatMap((r) => (Array.isArray(r.failures) ? r.failures.filter(isRecord) : [])).map(failureText);
    return { name: typeof sc.name === 'string' ? sc.name : '?', passed: runs.length > 0 && runs.every((r) => r.passed === true), failures };
  });
}

function failureText(f: Record<string, unknown>): string {
  const part = (k: string) => (typeof f[k] === 'string' ? f[k] : '');
  return [part('step'), part('command') && `\`${part('command')}\``, part('expectation') && `expected ${part('expectation')}`, part('actual') && `got ${part('actual')}`].filter(Boolean).join(' · ');
}
