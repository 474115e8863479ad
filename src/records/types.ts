import type { JsonValue, StageKind } from '../config/pipeline.js';
import type { RunStatus, StageStatus } from './events.js';
import type { ReasonName } from './reasons.js';
import type { Usage } from '../base/usage.js';

/** Version of run.json and of the stage files (docs/running.md; schemas/run.schema.json). */
export const RECORD_VERSION = 1;

/** A stage as run.json shows it. `running` appears only while (or because) a run did not finish. */
export interface StageRecord {
  status: StageStatus | 'running';
  reason: ReasonName | null;
  message: string | null;
  started_at: string | null;
  ended_at: string | null;
  attempts: number;
  cached: boolean;
  outputs: Record<string, JsonValue>;
  usage: Usage;
  cost_usd: number;
  fingerprint: string | null;
  /** A loop's iterations, each with its body's stages by path (run.json only). */
  iterations?: { iteration: number; stages: Record<string, StageRecord> }[];
}

/** One stage's own file, `stages/<path>.json`: the truth run.json is derived from. */
export interface StageFile extends StageRecord {
  version: typeof RECORD_VERSION;
  path: string;
  kind: StageKind;
  /** Set for a stage inside a loop body: the loop's iteration (1-based). */
  iteration?: number;
}

export interface RunRecord {
  version: typeof RECORD_VERSION;
  id: string;
  name: string;
  status: RunStatus;
  exit_code: number | null;
  started_at: string;
  ended_at: string | null;
  usage: Usage;
  cost_usd: number;
  stages: Record<string, StageRecord>;
}

/** The fields of run.json that are not derived from the stage files. */
export type RunMeta = Pick<RunRecord, 'id' | 'name' | 'status' | 'exit_code' | 'started_at' | 'ended_at'>;
