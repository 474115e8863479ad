import type { JournalEvent as JournalLine, IterationsDroppedEvent, RunEndedEvent, RunOpenedEvent, StageOutputsEvent } from '../config/generated/run.js';
import type { EngineEvent } from './events.js';

/**
 * What a journal line holds (docs/running.md; schemas/run.schema.json's `journal_event`): every
 * engine event, verbatim, plus the events only the journal keeps. A reader treats any type it does
 * not know as journal-only: it keeps it (readJournalEvents gives it back) and the fold ignores
 * it — `model_answer`, say.
 */
export type JournalOnlyEvent = RunOpenedEvent | StageOutputsEvent | IterationsDroppedEvent | RunEndedEvent;

/**
 * One line of a journal as read, checked against the schema: a `type`, a `time`, a `run`, and
 * (for the events the fold reads) the fields it reads; anything more is the event's.
 */
export type JournalEvent = JournalLine & { [field: string]: unknown };

export type WrittenEvent = EngineEvent | JournalOnlyEvent | JournalEvent;
