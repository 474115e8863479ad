import { isAlive, readLock } from './lock.js';
import { lockFile } from './paths.js';
import type { RunRecord, StageRecord } from './types.js';

/**
 * How a run is shown: run.json says `running` both for a run in progress and for one whose
 * process was killed; the lock tells them apart.
 */
export function shownStatus(workspace: string, record: RunRecord): string {
  if (record.status !== 'running') return record.status;
  const holder = readLock(lockFile(workspace));
  return typeof holder === 'object' && holder.run === record.id && isAlive(holder) ? 'running' : 'interrupted';
}

/** "3 ok, 1 failed, 2 skipped": counts by status, in a fixed order. */
export function stageCounts(stages: Record<string, StageRecord>): string {
  const order = ['succeeded', 'failed', 'error', 'skipped', 'cancelled', 'running'] as const;
  const label: Record<string, string> = { succeeded: 'ok' };
  const counts = new Map<string, number>();
  for (const s of Object.values(stages)) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const parts = order.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${label[s] ?? s}`);
  return parts.join(', ') || 'none';
}

export function spanMs(startedAt: string | null, endedAt: string | null): number | undefined {
  if (!startedAt || !endedAt) return undefined;
  return Math.max(0, Date.parse(endedAt) - Date.parse(startedAt));
}

/** `2026-11-26 13:15:00Z` */
export function shortTime(iso: string | null): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}
