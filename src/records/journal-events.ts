import type { StageKind } from '../config/pipeline.js';
import type { JsonValue } from '../config/pipeline.js';
import type { EngineEvent, RunStatus } from './events.js';

/**
 * What a journal line holds (docs/running.md): every engine event, verbatim, plus the events
 * only the journal keeps. A reader treats any type it does not know as journal-only: it keeps it
 * (readJournalEvents gives it back) and the fold ignores it — `model_answer`, say.
 */
export type JournalOnlyEvent =
  /** An apply opened the run: the run's name, and when the run (not this apply) started. */
  | { type: 'run_opened'; time: string; run: string; name: string; started_at: string; writer: string }
  /** A stage's end as the record keeps it, written just before its `stage_finished`. */
  | {
      type: 'stage_outputs';
      time: string;
      run: string;
      stage: string;
      iteration?: number;
      kind: StageKind;
      outputs: Record<string, JsonValue>;
      fingerprint: string | null;
      /** Start of the first attempt; null for a stage that never started. */
      started_at: string | null;
      attempts: number;
    }
  /** A loop runs again from its first iteration: its body's recorded iterations are gone. */
  | { type: 'iterations_dropped'; time: string; run: string; stage: string }
  /** The apply ended: the run's status as run.json shows it. */
  | { type: 'run_ended'; time: string; run: string; status: RunStatus; exit_code: number | null; ended_at: string };

/** One line of a journal as read: an object with a `type` and a `time`; anything more is the event's. */
export interface JournalEvent {
  type: string;
  time: string;
  [field: string]: unknown;
}

export type WrittenEvent = EngineEvent | JournalOnlyEvent | (JournalEvent & { run: string });
