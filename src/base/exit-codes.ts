/** Exit codes of docs/running.md, plus 70 for a bug in factory itself (sysexits' EX_SOFTWARE). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  budget: 3,
  internal: 70,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
