import type { Status } from '../model.js';

/** One colour per status, the same in the graph, the timeline, the tables and the legend. */
export const STATUS_COLOR: Record<Status, string> = {
  succeeded: '#2f9e44',
  failed: '#e03131',
  error: '#a61e4d',
  skipped: '#adb5bd',
  cancelled: '#868e96',
  running: '#1c7ed6',
  waiting: '#f08c00',
  pending: '#dee2e6',
  interrupted: '#e8590c',
};

export function statusColor(s: string): string {
  return (STATUS_COLOR as Record<string, string>)[s] ?? '#ced4da';
}
