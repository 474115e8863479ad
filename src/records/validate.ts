import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ApprovalAnswer, ApprovalQuestion, CacheEntry, RunRecord, StageFile } from '../config/generated/run.js';
import {
  validateApprovalAnswer,
  validateApprovalQuestion,
  validateCacheEntry,
  validateJournalEvent,
  validateRunRecord,
  validateStageFile,
} from '../config/generated/validate-records.js';
import type { JournalEvent } from './journal-events.js';

/**
 * Every record read back from disk is checked against schemas/run.schema.json before it is used:
 * records are input (merged from other machines, edited, cut short), never trusted as typed.
 * The validators are compiled at build time (scripts/gen-validators.mjs), so a check costs a
 * walk of the value, and nothing at start-up.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; why: string };

function check<T>(validate: ValidateFunction, value: unknown): Checked<T> {
  if (validate(value)) return { ok: true, value: value as T };
  return { ok: false, why: describeErrors(validate.errors ?? []) };
}

export const checkRunRecord = (value: unknown): Checked<RunRecord> => check(validateRunRecord, value);
export const checkStageFile = (value: unknown): Checked<StageFile> => check(validateStageFile, value);
export const checkJournalEvent = (value: unknown): Checked<JournalEvent> => check(validateJournalEvent, value);
export const checkCacheEntry = (value: unknown): Checked<CacheEntry> => check(validateCacheEntry, value);
export const checkApprovalAnswer = (value: unknown): Checked<ApprovalAnswer> => check(validateApprovalAnswer, value);
export const checkApprovalQuestion = (value: unknown): Checked<ApprovalQuestion> => check(validateApprovalQuestion, value);

/** JSON text checked as a record: why it is not one, in words that name the field. */
export function parseRecord<T>(text: string, checker: (value: unknown) => Checked<T>): Checked<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: text.trim() === '' ? 'it is empty' : 'it is not valid JSON (truncated or damaged)' };
  }
  return checker(value);
}

/**
 * What is wrong, from ajv's errors (without `allErrors`: the first mismatch, and for an `anyOf`
 * the alternatives it tried, listed before it).
 */
export function describeErrors(errors: readonly ErrorObject[]): string {
  const last = errors.at(-1);
  if (last?.keyword === 'anyOf') {
    const tried = errors.filter((e) => e.instancePath === last.instancePath && e !== last).map(alternative);
    if (tried.length > 0 && tried.every((t) => t !== undefined)) return `${where(last)}must be ${tried.join(' or ')}`;
  }
  return describeError(errors[0]);
}

function where(error: ErrorObject): string {
  return error.instancePath === '' ? '' : `${error.instancePath}: `;
}

/** One alternative of an anyOf, as the value it wanted. */
function alternative(error: ErrorObject): string | undefined {
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'enum') return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (error.keyword === 'const') return JSON.stringify(p.allowedValue);
  if (error.keyword === 'type') return String(p.type);
  if (error.keyword === 'pattern' && isTimePattern(p.pattern)) return 'a time in ISO 8601 (UTC)';
  return undefined;
}

function isTimePattern(pattern: unknown): boolean {
  return String(pattern).startsWith('^\\d{4}-');
}

/** ajv's first error as a sentence: where (a JSON pointer into the record) and what is wrong. */
export function describeError(error: ErrorObject | undefined): string {
  if (!error) return 'it does not match its schema';
  const at = where(error);
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return error.instancePath === '' && p.type === 'object' ? 'not a JSON object' : `${at}must be ${String(p.type).replace(',', ' or ')}`;
    case 'required':
      return `${at}"${String(p.missingProperty)}" is missing`;
    case 'additionalProperties':
      return `${at}"${String(p.additionalProperty)}" is not a field of it`;
    case 'unevaluatedProperties':
      return `${at}"${String(p.unevaluatedProperty)}" is not a field of it`;
    case 'enum':
      return `${at}must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at}must be ${JSON.stringify(p.allowedValue)}`;
    case 'pattern':
      return `${at}${isTimePattern(p.pattern) ? 'must be a time in ISO 8601 (UTC)' : `must match ${String(p.pattern)}`}`;
    default:
      return `${at}${error.message ?? 'does not match its schema'}`;
  }
}
