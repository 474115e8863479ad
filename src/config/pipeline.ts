import type { Position } from './diagnostics.js';
import type { FactoryConfig, Stage } from './generated/factory.js';

/**
 * The typed, immutable result of loading and checking a factory.yaml: what the engine runs.
 * The engine never reads YAML; everything it needs about a stage is here.
 */
export type StageKind = Stage['kind'];

/** A JSON value as config and expressions produce them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where something was written, to put in run-time error reasons ("factory.yaml:12:9"). */
export interface SourceRef {
  /** The file that declares the stage (a template's file for a stage it brought). */
  file: string;
  /** Its folder: `prompt_file` resolves against it (docs/templates.md); all else against the workspace. */
  dir: string;
  /** The position of a value (or its key) under this stage's definition, e.g. ['env', 'TOKEN']; [] with 'key' is the stage's id. */
  locate(keyPath: readonly (string | number)[], which?: 'key' | 'value'): Position;
}

export interface StageNode {
  id: string;
  /** Dotted path from the top: `build.generate`. Iterations are never part of it. */
  path: string;
  kind: StageKind;
  /** Ids in the same scope that must finish first. */
  needs: readonly string[];
  /** Transitive closure of `needs` within the scope. */
  upstream: ReadonlySet<string>;
  /** The `if` text; `${{ success() }}` when not written. */
  if: string;
  continueOnError: boolean;
  /** Milliseconds; undefined means no timeout. */
  timeoutMs: number | undefined;
  /** Retries after an `error`; 0 for loop, pipeline and approve. */
  retries: number;
  /** The stage as written (after template merging), expressions not yet evaluated. */
  def: Stage;
  /** The nested scope of a loop, or of a pipeline stage (its template's stages). */
  body?: Scope;
  /** A pipeline stage's template: checked on its own, its stages' paths under this stage's. */
  template?: TemplateCall;
  source: SourceRef;
  /** A fan-out instance (`attempt[2]`, section 13): its values as progress shows them, `approach=refactor`. */
  values?: string;
}

/** What a `pipeline` stage calls (docs/configuration.md, pipeline; section 8). */
export interface TemplateCall {
  /** The ref as written in `uses`. */
  ref: string;
  /** The template as a pipeline of its own: its params (defaults and static `with` values), its stages. */
  pipeline: Pipeline;
  /** `with` as written; expressions in it are evaluated in the caller's scope at run time. */
  with: Readonly<Record<string, JsonValue>>;
  /** The template's `outputs:` expressions, evaluated over its stages once they finish. */
  outputs: Readonly<Record<string, string>>;
}

export interface Scope {
  /** Dotted path of the stage that owns this scope; '' for the top level. */
  path: string;
  /** Stages in a deterministic topological order (needs before their dependants, then by position). */
  stages: readonly StageNode[];
  byId: ReadonlyMap<string, StageNode>;
}

export interface Pipeline {
  /** factory.yaml as shown to the user. */
  file: string;
  absPath: string;
  /** The workspace: the directory of the factory.yaml given to apply. Records go to `<dir>/.factory`. */
  dir: string;
  name: string;
  description?: string;
  /** The merged configuration as written. */
  config: FactoryConfig;
  /** Param values after defaults, `with` and `--set`, typed as declared. */
  params: Readonly<Record<string, JsonValue>>;
  /** Stages run at once (config `concurrency`, overridden by `--concurrency`). */
  concurrency: number;
  root: Scope;
}
