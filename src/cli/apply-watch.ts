import { loadPipeline, type PipelineResult } from '../config/index.js';
import type { RunResult } from '../engine/run.js';
import { type CliIO } from '../base/io.js';
import { EXIT } from './exit.js';
import { printDiagnostics } from './print-diagnostics.js';
import { stageExecutors } from '../stages/registry.js';
import type { ModelFlags } from '../engine/models/services.js';
import type { ApplyTrace } from './apply-trace.js';

/** The flags of `apply` that watch mode reads. */
export interface WatchFlags {
  set: string[];
  concurrency?: number;
  only?: string[];
  runId?: string;
  cache: boolean;
  json?: boolean;
  quiet?: boolean;
  approve?: string[];
}

export interface WatchArgs {
  file: string | undefined;
  flags: WatchFlags;
  resume: true | string | undefined;
  models: ModelFlags;
  loaded: PipelineResult;
  onInterrupt(io: CliIO): { signal: AbortSignal; dispose(): void };
  /** Each run's trace, when exporting (docs/telemetry.md). */
  tracing: ApplyTrace;
}

/**
 * `apply --watch`: the session of src/watch with this CLI's printing. Each rerun is a new run
 * (so `--resume` and `--run-id` do not combine with it); `--no-cache` holds for the first run
 * only, the reruns use the cache; `--only` holds for every run. Exits 130 on Ctrl-C.
 */
export async function watchApply(io: CliIO, args: WatchArgs): Promise<number> {
  const { flags, loaded } = args;
  if (args.resume !== undefined || flags.runId !== undefined) {
    io.stderr.write('factory apply: --watch starts a new run at every change; it cannot be combined with --resume or --run-id\n');
    return EXIT.usage;
  }
  // A file that cannot be found at all cannot be watched; one that is invalid can be fixed.
  if (!loaded.ok && loaded.file === undefined) {
    printDiagnostics(io, loaded.diagnostics, loaded.sources);
    return EXIT.usage;
  }
  const [{ runPipeline }, ui, { watchSession }] = await Promise.all([import('../engine/run.js'), import('../ui/index.js'), import('../watch/session.js')]);
  const renderer = await ui.createRenderer(ui.chooseMode(io, { json: flags.json === true, quiet: flags.quiet === true }), io);
  const prompt = ui.approvalPrompt(io, renderer);
  const interrupt = args.onInterrupt(io);
  let first = true;
  const run = async (pipeline: Parameters<typeof runPipeline>[0], signal: AbortSignal, hooks: Parameters<typeof runPipeline>[1]['workspaceHooks']): Promise<RunResult> => {
    let approve: string[] | undefined;
    if (flags.approve) {
      const { resolveApproveIds } = await import('../engine/approvals/approvals.js');
      const resolved = resolveApproveIds(pipeline.root, flags.approve);
      if (!resolved.ok) return { ok: false, message: resolved.message, exitCode: EXIT.usage };
      approve = resolved.paths;
    }
    const noCache = first && flags.cache === false;
    first = false;
    const traced = await args.tracing.start(renderer);
    const result = await runPipeline(pipeline, {
      executors: stageExecutors,
      sink: traced.sink,
      ...(traced.trace ? { trace: traced.trace } : {}),
      signal,
      env: io.env,
      cwd: io.cwd,
      models: args.models,
      ...(flags.only ? { only: flags.only } : {}),
      ...(approve ? { approve } : {}),
      ...(prompt ? { prompt } : {}),
      ...(noCache ? { noCache: true } : {}),
      ...(hooks ? { workspaceHooks: hooks } : {}),
    });
    await traced.end(result.ok ? undefined : result.message);
    return result;
  };
  let code: number;
  try {
    code = await watchSession({
      sink: renderer,
      signal: interrupt.signal,
      cwd: io.cwd,
      initial: loaded,
      load: () => loadPipeline(args.file, { cwd: io.cwd, set: flags.set, forRun: true, ...(flags.concurrency ? { concurrency: flags.concurrency } : {}) }),
      run,
      // An all-cached first run loads no provider; load it while idle so the first rerun starts at once.
      warm: () => import('../providers/index.js'),
      report: {
        invalid: (r) => printDiagnostics(io, r.diagnostics, r.sources),
        warnings: (r) => printDiagnostics(io, r.warnings, r.sources),
        note: (text) => {
          if (!flags.quiet) io.stderr.write(`${text}\n`);
        },
        refused: (message) => io.stderr.write(`factory apply: ${message}\n`),
      },
    });
  } finally {
    interrupt.dispose();
  }
  await renderer.close();
  return code;
}
