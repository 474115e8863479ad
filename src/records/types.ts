import type { RunRecord } from '../config/generated/run.js';

/**
 * The record files' types are generated from schemas/run.schema.json (scripts/gen-types.mjs),
 * the one place that says what run.json, a stage file, a journal line, a cache entry and an
 * approval file hold; records/validate.ts checks each against it when read.
 */
export type { RunRecord, StageRecord, StageFile, IterationRecord, RunStatus, StageStatus } from '../config/generated/run.js';

/** Version of run.json and of the stage files (docs/running.md; schemas/run.schema.json). */
export const RECORD_VERSION = 1;

/** The fields of run.json that are not derived from the stage files. */
export type RunMeta = Pick<RunRecord, 'id' | 'name' | 'status' | 'exit_code' | 'started_at' | 'ended_at'>;
