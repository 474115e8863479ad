import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describeFsError } from './fs-error.js';
import { mergedRunMeta, normalizeStageFile } from './merge.js';
import { runDir, runJson, runsDir, stagesDir } from './paths.js';
import { deriveRunRecord } from './store.js';
import type { RunMeta, RunRecord, StageFile } from './types.js';

export type LoadedRun = { ok: true; dir: string; record: RunRecord; stages: StageFile[] } | { ok: false; error: string };

/**
 * A run as its files say: run.json for the run's own fields, each stage from its own file (the
 * truth, should run.json lag behind after a kill, or stage files come from other machines). A
 * run without run.json whose stages/ holds stage files (downloaded from upstream jobs) is a
 * record too: its summary is derived from them (SPEC section 11).
 */
export function loadRun(workspace: string, id: string): LoadedRun {
  const dir = runDir(workspace, id);
  let meta: RunRecord;
  try {
    meta = JSON.parse(readFileSync(runJson(dir), 'utf8')) as RunRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const stages = readStageFiles(dir, undefined);
      if (stages.length > 0) return { ok: true, dir, record: deriveRunRecord(mergedRunMeta(id, stages), stages), stages };
      return { ok: false, error: `run "${id}" has no record in ${runsDir(workspace)}` };
    }
    return { ok: false, error: `cannot read ${describeFsError(err, runJson(dir))}` };
  }
  const stages = readStageFiles(dir, meta);
  const ownFields: RunMeta = { id: meta.id, name: meta.name, status: meta.status, exit_code: meta.exit_code, started_at: meta.started_at, ended_at: meta.ended_at };
  return { ok: true, dir, record: deriveRunRecord(ownFields, stages), stages };
}

function readStageFiles(dir: string, meta: RunRecord | undefined): StageFile[] {
  const byPath = new Map<string, StageFile>();
  // Stages named by run.json first (its order), then any file it does not know yet.
  for (const [path, s] of Object.entries(meta?.stages ?? {})) {
    const file = normalizeStageFile({ kind: 'command', ...s, path });
    if (file) byPath.set(path, file);
  }
  let names: string[] = [];
  try {
    names = readdirSync(stagesDir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [...byPath.values()];
  }
  const iterations: StageFile[] = [];
  for (const name of names) {
    try {
      const file = normalizeStageFile(JSON.parse(readFileSync(`${stagesDir(dir)}/${name}`, 'utf8')));
      if (!file) continue;
      if (file.iteration !== undefined) iterations.push(file);
      else byPath.set(file.path, file);
    } catch {
      // a file being written right now is a temp file, never a .json; anything else unreadable is skipped
    }
  }
  return [...byPath.values(), ...iterations];
}

export interface RunListing {
  id: string;
  record: RunRecord;
}

/** Every run with a readable record, oldest first (by start time, then id). */
export function listRuns(workspace: string): RunListing[] {
  let ids: string[];
  try {
    ids = readdirSync(runsDir(workspace));
  } catch {
    return [];
  }
  const runs: RunListing[] = [];
  for (const id of ids) {
    if (!existsSync(runJson(runDir(workspace, id)))) continue;
    const loaded = loadRun(workspace, id);
    if (loaded.ok) runs.push({ id, record: loaded.record });
  }
  return runs.sort((a, b) => a.record.started_at.localeCompare(b.record.started_at) || a.id.localeCompare(b.id));
}

/** The id of the most recently started run, if any (reads run.json files only). */
export function latestRunId(workspace: string): string | undefined {
  let ids: string[];
  try {
    ids = readdirSync(runsDir(workspace));
  } catch {
    return undefined;
  }
  let best: { id: string; started: string } | undefined;
  for (const id of ids) {
    let started: string;
    try {
      started = String((JSON.parse(readFileSync(runJson(runDir(workspace, id)), 'utf8')) as RunRecord).started_at);
    } catch {
      continue;
    }
    if (!best || started > best.started || (started === best.started && id > best.id)) best = { id, started };
  }
  return best?.id;
}
