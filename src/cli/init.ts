import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { EXIT, ExitError, type CliIO } from './io.js';
import { nearest } from '../config/suggest.js';

const SCHEMA_LINE = '# yaml-language-server: $schema=node_modules/software-factory/schemas/factory.schema.json';

const STARTER = `${SCHEMA_LINE}
version: 1
name: my-factory
description: Turn SPEC.md into tested code, looping until the held-out scenarios pass.

params:
  spec: { type: string, default: SPEC.md, description: The specification to implement }

defaults:
  provider: anthropic          # anthropic | replay
  model: claude-sonnet-5-5
  max_tokens: 8192
  timeout: 10m

budget:                        # for the whole run: the run stops (exit 3) when one is spent
  tokens: 1M
  cost_usd: 5
  wall_time: 30m

stages:
  plan:
    kind: plan
    prompt: Write a short implementation plan for the specification below.
    context: ["\${{ params.spec }}"]

  build:
    kind: loop
    needs: [plan]
    max_iterations: 3
    until: \${{ stages.validate.outputs.passed }}
    stages:
      generate:
        kind: generate
        prompt: |
          Implement this plan: \${{ stages.plan.outputs.text }}
          Feedback from the previous attempt: \${{ loop.previous.validate.outputs.feedback }}
        context: ["\${{ params.spec }}"]
        max_turns: 30
      validate:
        kind: scenario-validate
        needs: [generate]
        scenarios: scenarios/*.yaml   # held out: the generate stage can never read these
        threshold: 1.0
`;

const SCENARIO = `# A held-out scenario: the generate stage never sees this file; only its name and
# description come back as feedback when it fails.
name: prints a greeting
description: Running the program with a name greets that name.
steps:
  - run: node main.js Ada
    expect: { exit_code: 0, stdout_contains: "Hello, Ada" }
`;

const SPEC = `# Specification

A command-line program \`main.js\` that prints \`Hello, NAME\` for the name given as its
first argument, and exits with code 2 and a usage message when no name is given.
`;

const BUG = `# Bug

What happens, what should happen instead, and the command that shows it.
`;

/** Placeholders for the files a starter pipeline reads, written only when missing. */
const PLACEHOLDERS: Record<string, [string, string][]> = {
  starter: [['SPEC.md', SPEC]],
  'spec-to-code': [['SPEC.md', SPEC]],
  bugfix: [['BUG.md', BUG]],
};

const GITIGNORE_LINES = ['.factory/'];

/** Built-in templates are the files of this package's pipelines/ folder. */
function builtinTemplates(): Map<string, string> {
  const dir = new URL('../../pipelines/', import.meta.url);
  const out = new Map<string, string>();
  try {
    for (const f of readdirSync(dir)) if (f.endsWith('.yaml')) out.set(f.slice(0, -5), new URL(f, dir).pathname);
  } catch {
    // no built-ins shipped
  }
  return out;
}

export function registerInit(program: Command, io: CliIO): Command {
  return program
    .command('init')
    .description('write a starter factory.yaml, scenarios/example.yaml, placeholder SPEC.md or BUG.md, and .gitignore lines')
    .option('--template <name>', 'start from a built-in template')
    .option('--force', 'overwrite files that exist')
    .action((opts: { template?: string; force?: boolean }) => {
      let pipelineText = STARTER;
      if (opts.template !== undefined) {
        const templates = builtinTemplates();
        const file = templates.get(opts.template);
        if (!file) {
          const names = [...templates.keys()];
          const near = nearest(opts.template, names);
          io.stderr.write(`error: no built-in template "${opts.template}"${near ? ` (did you mean "${near}"?)` : ''}\n  templates: ${names.join(', ') || 'none'}\n`);
          throw new ExitError(EXIT.usage);
        }
        pipelineText = `${SCHEMA_LINE}\n${readFileSync(file, 'utf8').replace(/^# yaml-language-server:.*\n/, '')}`;
      }
      const files: [string, string][] = [
        ['factory.yaml', pipelineText],
        [path.join('scenarios', 'example.yaml'), SCENARIO],
      ];
      const clashes = files.map(([f]) => f).filter((f) => existsSync(path.join(io.cwd, f)));
      if (clashes.length && !opts.force) {
        io.stderr.write(`error: ${clashes.join(' and ')} already exist${clashes.length === 1 ? 's' : ''}; nothing was written\n  = hint: pass --force to overwrite\n`);
        throw new ExitError(EXIT.usage);
      }
      const written: string[] = [];
      for (const [f, text] of files) {
        mkdirSync(path.dirname(path.join(io.cwd, f)), { recursive: true });
        writeFileSync(path.join(io.cwd, f), text);
        written.push(f);
      }
      for (const [f, text] of PLACEHOLDERS[opts.template ?? 'starter'] ?? []) {
        if (existsSync(path.join(io.cwd, f))) continue;
        writeFileSync(path.join(io.cwd, f), text);
        written.push(f);
      }
      if (addGitignoreLines(path.join(io.cwd, '.gitignore'))) written.push('.gitignore');
      io.stdout.write(`wrote ${written.join(', ')}\nnext: edit SPEC.md and scenarios/, then run \`factory plan\` and \`factory apply\`\n`);
    });
}

/** Appends the lines .gitignore lacks; true when it changed. */
function addGitignoreLines(file: string): boolean {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const have = new Set(current.split(/\r?\n/).map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !have.has(l) && !have.has(l.replace(/\/$/, '')));
  if (missing.length === 0) return false;
  const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  writeFileSync(file, `${prefix}# factory: run records and cache\n${missing.join('\n')}\n`);
  return true;
}
