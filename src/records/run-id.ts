import { randomBytes } from 'node:crypto';

/**
 * Ids sort by start time: `20261126T131500.123Z-3f9a` (UTC to the millisecond, then 4 random hex
 * digits), so two runs started within one second still list in order.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A message when `id` cannot name a run directory, else undefined. */
export function checkRunId(id: string): string | undefined {
  if (RUN_ID.test(id) && !id.includes('..')) return undefined;
  return `"${id}" is not a valid run id: use letters, digits, ".", "_" and "-" (at most 128), starting with a letter or digit`;
}
