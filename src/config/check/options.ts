import type { Diagnostic } from '../diagnostics.js';
import type { JsonValue, Pipeline } from '../pipeline.js';

/** How a file is checked (check.ts), and what comes of it: shared with templates/uses.ts, which checks a called template as a pipeline of its own. */
export interface CheckOptions {
  /** `--set id=value` entries. */
  set: readonly string[];
  /** `--concurrency N`, which wins over the file. */
  concurrency?: number;
  /** A run needs every required param; `validate` does not. */
  forRun: boolean;
  /** Where paths in messages are shown relative to. */
  cwd?: string;
  /** For a template called by a pipeline stage: that stage's path, under which its stages go. */
  prefix?: string;
  /** The folder of the factory.yaml given to apply, when it is not this file's (a called template). */
  workspace?: string;
  /** Param values already typed (a pipeline stage's literal `with`). */
  paramValues?: Readonly<Record<string, JsonValue>>;
  /** Params given as expressions (a pipeline stage's `with`): known only at run time. */
  runtimeParams?: ReadonlySet<string>;
  /** Template files on the way here (cycles of `uses`/`extends`), and how they were reached. */
  chain?: readonly string[];
  /** For a called template: the profiles its callers declare, which its stages may name. */
  outerProfiles?: ReadonlySet<string>;
  via?: readonly string[];
}

export interface CheckResult {
  diagnostics: Diagnostic[];
  /** Present when there is no error. */
  pipeline?: Pipeline;
}
