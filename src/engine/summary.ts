import type { StageKind } from '../config/pipeline.js';
import type { RunStatus, StageStatus } from '../records/events.js';
import type { ReasonName } from '../records/reasons.js';
import type { Usage } from '../base/usage.js';

/** What a finished run hands to the renderer's summary and to the CLI's exit code. */
export interface RunSummary {
  run: string;
  name: string;
  file: string;
  status: RunStatus;
  exit_code: number;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  /** The run's record directory (`.factory/runs/<id>`). */
  record: string;
  resumed: boolean;
  stages: StageSummary[];
  usage: Usage;
  cost_usd: number;
  /** Set when the record could not be written completely (read-only or full disk). */
  error?: string;
}

export interface StageSummary {
  path: string;
  kind: StageKind;
  status: StageStatus | 'running';
  reason?: ReasonName;
  message?: string;
  duration_ms: number;
  attempts: number;
  cached: boolean;
  /** Taken from the run's record as it stood (--resume, --only), not run now. */
  kept: boolean;
}
