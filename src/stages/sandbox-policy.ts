import { realpathSync } from 'node:fs';
import type { Sandbox } from '../config/generated/factory.js';
import { sandboxWritePath } from '../config/sandbox-paths.js';
import type { SandboxPolicy } from '../process/sandbox.js';
import { sandboxRuntime } from '../process/sandbox-runtime.js';
import type { StageContext, StageResult } from '../engine/executor.js';

/**
 * The sandbox a stage's programs run in: its own `sandbox`, else the pipeline's; undefined when
 * neither asks for one. `workspace` is the folder the stage works in (always writable).
 */
export function sandboxPolicy(ctx: StageContext, workspace: string): SandboxPolicy | undefined {
  const own = (ctx.node.def as { sandbox?: Sandbox }).sandbox;
  const setting = own ?? ctx.pipeline.config.sandbox;
  if (setting === undefined || setting === false) return undefined;
  const open = setting === true ? {} : setting;
  return {
    workspace: realFolder(workspace),
    writes: (open.writes ?? []).map((w) => sandboxWritePath(w, ctx.pipeline.dir)),
    network: open.network ?? [],
  };
}

/**
 * For stages that start programs along the way (run_command, scenario steps): the stage ends in
 * `error` with reason `sandbox` before it starts when the machine cannot sandbox, rather than
 * midway. undefined when it can (or no sandbox is asked for).
 */
export async function sandboxUnavailable(policy: SandboxPolicy | undefined): Promise<StageResult | undefined> {
  if (!policy) return undefined;
  const started = await sandboxRuntime();
  return started.ok ? undefined : { status: 'error', reason: { kind: 'sandbox' }, message: started.message, outputs: {} };
}

function realFolder(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return dir;
  }
}
