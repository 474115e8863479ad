import { EXIT } from '../base/exit-codes.js';

/** Exit codes of docs/running.md, plus 70 for a bug in factory itself; the engine needs them for run.json's exit_code. */
export { EXIT };

/** Thrown inside a command to end it with an exit code after its message is printed. */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
