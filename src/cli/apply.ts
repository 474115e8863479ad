import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadPipeline } from '../config/index.js';
import { didYouMean } from '../config/suggest.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { collect, commaList, positiveInt } from './options.js';
import { printDiagnostics } from './print-diagnostics.js';
import { warmSpawnHelpers } from '../process/spawner-pool.js';
import { stageExecutors } from '../stages/registry.js';
import { ApplyTrace } from './apply-trace.js';
import type { ModelFlags } from '../engine/models/services.js';

interface ApplyFlags {
  set: string[];
  concurrency?: number;
  only?: string[];
  resume?: true | string;
  runId?: string;
  cache: boolean;
  json?: boolean;
  quiet?: boolean;
  watch?: boolean;
  provider?: string;
  record?: string;
  replay?: string;
  approve?: string[];
  keepWork?: boolean;
  otel?: boolean;
}

/** Options docs/running.md names that later versions implement; refused clearly rather than ignored. */
const NOT_YET: readonly (keyof ApplyFlags)[] = [];

export function registerApply(program: Command, io: CliIO): Command {
  const cmd: Command = program
    .command('apply')
    .description('run the pipeline: stages in dependency order, with records in .factory/runs')
    .argument('[file]', 'factory.yaml, or a directory holding one (default ./factory.yaml)')
    .option('--set <id=value>', 'set a param (repeatable)', collect, [])
    .option('--concurrency <n>', 'stages run at once (overrides the file)', positiveInt)
    .option('--only <ids>', 'run only these stages (comma-separated), with what they need', commaList)
    .option('--resume [run]', 'continue the latest run (or --resume=RUN): succeeded stages are kept')
    .option('--run-id <id>', 'name the run (resuming an id without a record starts it)')
    .option('--no-cache', 'run every stage even when a cached result matches')
    .option('--json', 'print one JSON event per line on stdout')
    .option('--quiet', 'print only errors and the summary of a run that did not succeed')
    .option('--watch', 'run, then rerun with the cache whenever a file the pipeline reads changes (Ctrl-C to stop)')
    .option('--provider <name>', 'provider for every model stage: anthropic, openai or replay')
    .option('--record <file>', 'record every model call into this cassette')
    .option('--replay <file>', 'answer model calls from this cassette (the replay provider)')
    .option('--approve <ids>', 'approve these approve stages in advance (comma-separated stage paths)', commaList)
    .option('--keep-work', "keep the isolated fan-out instances' copies of the workspace (.factory/work/<run>/) for inspection")
    .option('--otel', 'export the run as an OpenTelemetry trace (OTLP/HTTP; also on when OTEL_EXPORTER_OTLP_ENDPOINT is set)')
    .action(async (file: string | undefined, flags: ApplyFlags) => {
      const code = await apply(io, file, flags, rawArgs(cmd));
      if (code !== EXIT.ok) throw new ExitError(code);
    });
  return cmd;
}

function rawArgs(cmd: Command): string[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  return (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
}

async function apply(io: CliIO, fileArg: string | undefined, flags: ApplyFlags, raw: string[]): Promise<number> {
  for (const key of NOT_YET) {
    if (flags[key] !== undefined) {
      io.stderr.write(`factory apply: --${key} is not available in this version of factory yet\n`);
      return EXIT.usage;
    }
  }
  const models = modelFlags(io, flags);
  if (!models.ok) {
    io.stderr.write(`factory apply: ${models.message}\n`);
    return EXIT.usage;
  }
  let file = fileArg;
  let resume = flags.resume;
  // `--resume DIR` (with a space) reads as "resume, in DIR": an existing path is the file, not a run id.
  if (typeof resume === 'string' && file === undefined && raw.includes('--resume') && existsSync(path.resolve(io.cwd, resume))) {
    file = resume;
    resume = true;
  }
  // The first spawn helper (a small Node process that starts command stages' programs) loads on
  // its own core while this process reads the config and loads the engine: ~40 ms off the start.
  warmSpawnHelpers();
  // The engine, execa and listr2 load only for apply, so read-only commands start fast; execa's
  // import overlaps with reading the config.
  const engine = Promise.all([import('../engine/run.js'), import('../ui/index.js'), import('../process/spawn.js')]);
  engine.then(([, , spawn]) => spawn.preloadExeca()).catch(() => undefined);
  const tracing = new ApplyTrace(io, flags.otel === true);
  const loaded = loadPipeline(file, { cwd: io.cwd, set: flags.set, forRun: true, ...(flags.concurrency ? { concurrency: flags.concurrency } : {}) });
  if (flags.watch) {
    const { watchApply } = await import('./apply-watch.js');
    return watchApply(io, { file, flags, resume, models: models.flags, loaded, onInterrupt, tracing });
  }
  if (!loaded.ok) {
    printDiagnostics(io, loaded.diagnostics, loaded.sources);
    return EXIT.usage;
  }
  printDiagnostics(io, loaded.warnings, loaded.sources);
  let approve: string[] | undefined;
  if (flags.approve) {
    const { resolveApproveIds } = await import('../engine/approvals/approvals.js');
    const resolved = resolveApproveIds(loaded.pipeline.root, flags.approve);
    if (!resolved.ok) {
      io.stderr.write(`factory apply: ${resolved.message}\n`);
      return EXIT.usage;
    }
    approve = resolved.paths;
  }

  const [{ runPipeline }, { chooseMode, createRenderer, approvalPrompt }] = await engine;
  const renderer = await createRenderer(chooseMode(io, { json: flags.json === true, quiet: flags.quiet === true }), io);
  // A human at this terminal answers approvals in the live progress; elsewhere the run waits for `factory approve`.
  const prompt = approvalPrompt(io, renderer);
  const traced = await tracing.start(renderer);
  const interrupt = onInterrupt(io);
  let result;
  try {
    result = await runPipeline(loaded.pipeline, {
      executors: stageExecutors,
      sink: traced.sink,
      ...(traced.trace ? { trace: traced.trace } : {}),
      signal: interrupt.signal,
      env: io.env,
      cwd: io.cwd,
      models: models.flags,
      ...(flags.runId !== undefined ? { runId: flags.runId } : {}),
      ...(resume !== undefined ? { resume } : {}),
      ...(flags.only ? { only: flags.only } : {}),
      ...(approve ? { approve } : {}),
      ...(prompt ? { prompt } : {}),
      ...(flags.cache === false ? { noCache: true } : {}),
      ...(flags.keepWork === true ? { keepWork: true } : {}),
    });
  } finally {
    interrupt.dispose();
  }
  // The trace is sent while the renderer finishes; its warning, if any, comes after the summary.
  const tracedEnd = traced.end(result.ok ? undefined : result.message);
  await renderer.close();
  await tracedEnd;
  if (!result.ok) {
    io.stderr.write(`factory apply: ${result.message}\n`);
    return result.exitCode;
  }
  if (result.summary.error) io.stderr.write(`factory apply: ${result.summary.error}\n`);
  return result.summary.exit_code;
}

const PROVIDERS = ['anthropic', 'openai', 'replay'] as const;

/** `--provider`, `--replay`, `--record`: a known provider; files resolved against the cwd. */
function modelFlags(io: CliIO, flags: ApplyFlags): { ok: true; flags: ModelFlags } | { ok: false; message: string } {
  const out: ModelFlags = {};
  if (flags.provider !== undefined) {
    const name = PROVIDERS.find((p) => p === flags.provider);
    if (!name) return { ok: false, message: `--provider: unknown provider "${flags.provider}"${didYouMean(flags.provider, PROVIDERS)}; the providers are ${PROVIDERS.slice(0, -1).join(', ')} and ${PROVIDERS.at(-1)}` };
    if (flags.replay !== undefined && name !== 'replay') return { ok: false, message: `--replay answers from a cassette with the replay provider; it cannot be combined with --provider ${name}` };
    out.provider = name;
  }
  if (flags.replay !== undefined) out.replay = path.resolve(io.cwd, flags.replay);
  if (flags.record !== undefined) out.record = path.resolve(io.cwd, flags.record);
  if (out.replay !== undefined && out.record !== undefined && out.replay === out.record) {
    return { ok: false, message: '--record and --replay name the same file; record into another one' };
  }
  return { ok: true, flags: out };
}

/**
 * Ctrl-C (or SIGTERM) once: abort the run, which kills running process trees, records them
 * `cancelled` and ends with 130. Twice: exit at once.
 */
function onInterrupt(io: CliIO): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.stderr.write(`\nfactory: ${sig} again, exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    io.stderr.write(`\nfactory: ${sig}: stopping the running stages (press Ctrl-C again to exit at once)\n`);
    controller.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
