import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { diagnostic } from '../config/diagnostics.js';
import { loadPipeline } from '../config/index.js';
import { displayPath } from '../config/load/load.js';
import type { Pipeline, StageNode } from '../config/pipeline.js';
import { exportArgo } from '../export/argo.js';
import { exportProblems, repositoryRoot } from '../export/common.js';
import { exportGithubActions } from '../export/github-actions.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { choice, collect } from './options.js';
import { printDiagnostics } from './print-diagnostics.js';
import { VERSION } from './version.js';

type Target = 'github-actions' | 'argo';

interface ExportFlags {
  to: Target;
  output?: string;
  set: string[];
  secretName?: string;
  secretKey?: string;
  image?: string;
}

export function registerExport(program: Command, io: CliIO): Command {
  return program
    .command('export')
    .description('write the pipeline for a distributed engine: a GitHub Actions workflow or an Argo Workflow')
    .requiredOption('--to <engine>', 'github-actions or argo', choice(['github-actions', 'argo'] as const))
    .argument('[file]', 'factory.yaml, or a directory holding one')
    .option('-o, --output <path>', 'where to write it (`-` for stdout); default .github/workflows/factory.yml, or factory.argo.yaml beside the factory file')
    .option('--set <id=value>', 'set a param (repeatable)', collect, [])
    .option('--secret-name <name>', 'argo: the Kubernetes secret holding the API key', 'anthropic-api-key')
    .option('--secret-key <key>', 'argo: the key of that secret', 'api-key')
    .option('--image <image>', 'argo: the container image of every task', 'node:20')
    .action((file: string | undefined, flags: ExportFlags) => {
      const loaded = loadPipeline(file, { cwd: io.cwd, set: flags.set, forRun: false });
      if (!loaded.ok) {
        printDiagnostics(io, loaded.diagnostics, loaded.sources);
        throw new ExitError(EXIT.usage);
      }
      const { pipeline } = loaded;
      const problems = exportProblems(pipeline, flags.to);
      if (problems.length) {
        const diags = problems.map((p) => {
          const stage = findStage(pipeline, p.stage);
          const pos = stage ? stage.source.locate([], 'key') : { line: 0, column: 0, length: 1 };
          return diagnostic(stage?.source.file ?? pipeline.file, pos, 'export-unsupported', `stage "${p.stage}" cannot be exported to ${flags.to}: ${p.message}`);
        });
        printDiagnostics(io, diags, loaded.sources);
        throw new ExitError(EXIT.usage);
      }
      const text = flags.to === 'github-actions'
        ? exportGithubActions(pipeline, { file: pipeline.file, version: VERSION })
        : exportArgo(pipeline, { file: pipeline.file, version: VERSION, ...(flags.secretName ? { secretName: flags.secretName } : {}), ...(flags.secretKey ? { secretKey: flags.secretKey } : {}), ...(flags.image ? { image: flags.image } : {}) });
      if (flags.output === '-') {
        io.stdout.write(text);
        return;
      }
      const target = flags.output
        ? path.resolve(io.cwd, flags.output)
        : flags.to === 'github-actions'
          ? path.join(repositoryRoot(pipeline.dir), '.github', 'workflows', 'factory.yml')
          : path.join(pipeline.dir, 'factory.argo.yaml');
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
      io.stdout.write(`wrote ${displayPath(target, io.cwd)}\n`);
    });
}

function findStage(pipeline: Pipeline, stagePath: string): StageNode | undefined {
  let scope = pipeline.root;
  let found: StageNode | undefined;
  for (const id of stagePath.split('.')) {
    found = scope.byId.get(id);
    if (!found?.body) break;
    scope = found.body;
  }
  return found?.path === stagePath ? found : undefined;
}
