import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunRecord } from '../../src/records/types.js';
import { tempWorkspace } from './pipeline-builder.js';

/** A temp workspace holding the given files (relative paths, folders made as needed). */
export function workspaceWith(prefix: string, files: Record<string, string>): string {
  const dir = tempWorkspace(prefix);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** The folder of the latest run recorded in the workspace (run ids sort by start time). */
export function latestRunDir(dir: string): string {
  const runs = path.join(dir, '.factory', 'runs');
  return path.join(runs, readdirSync(runs).sort().at(-1)!);
}

export function latestRunJson(dir: string): RunRecord {
  return JSON.parse(readFileSync(path.join(latestRunDir(dir), 'run.json'), 'utf8')) as RunRecord;
}
