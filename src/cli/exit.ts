/** Exit codes of docs/running.md, plus 70 for a bug in factory itself. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  budget: 3,
  internal: 70,
  interrupted: 130,
} as const;

/** Thrown inside a command to end it with an exit code after its message is printed. */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
