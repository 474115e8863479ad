import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runPipeline, type RunOptions } from '../../src/engine/run.js';
import type { RunSummary } from '../../src/engine/summary.js';
import type { RunRecord, StageRecord } from '../../src/records/types.js';
import type { Pipeline } from '../../src/config/pipeline.js';
import { collectEvents } from './pipeline-builder.js';
import { stageExecutors } from '../../src/stages/registry.js';

/** Fast retries in tests. */
export const TEST_ENV: NodeJS.ProcessEnv = { ...process.env, FACTORY_RETRY_BASE_MS: '5' };

export interface Ran {
  summary: RunSummary;
  record: RunRecord;
  stage(path: string): StageRecord;
  events: ReturnType<typeof collectEvents>;
}

/** Runs a pipeline through the engine and reads back its run.json. */
export async function run(pipeline: Pipeline, options: Partial<RunOptions> = {}): Promise<Ran> {
  const events = collectEvents();
  const result = await runPipeline(pipeline, { executors: stageExecutors, sink: events, env: TEST_ENV, ...options });
  if (!result.ok) throw new Error(`run refused: ${result.message}`);
  const record = JSON.parse(readFileSync(path.join(result.summary.record, 'run.json'), 'utf8')) as RunRecord;
  return {
    summary: result.summary,
    record,
    events,
    stage: (p) => {
      const s = record.stages[p];
      if (!s) throw new Error(`no stage ${p} in run.json: ${Object.keys(record.stages).join(', ')}`);
      return s;
    },
  };
}

/** Whether a process exists and is not a zombie (Linux /proc). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
