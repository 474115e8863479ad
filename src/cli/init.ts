import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { nearest } from '../config/suggest.js';
import { SCHEMA_LINE, initPlan } from './init-files.js';

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
  const names = [...builtinTemplates().keys()].sort();
  return program
    .command('init')
    .description('write a starter factory.yaml, the files it reads (SPEC.md or BUG.md, scenarios/, a cassette) and .gitignore lines')
    .option('--template <name>', `start from a built-in template: ${names.join(', ') || 'none shipped'}`)
    .option('--force', 'overwrite files that exist')
    .action((opts: { template?: string; force?: boolean }) => {
      let templateText = '';
      if (opts.template !== undefined) {
        const file = builtinTemplates().get(opts.template);
        if (!file) {
          const near = nearest(opts.template, names);
          io.stderr.write(`error: no built-in template "${opts.template}"${near ? ` (did you mean "${near}"?)` : ''}\n  templates: ${names.join(', ') || 'none'}\n`);
          throw new ExitError(EXIT.usage);
        }
        templateText = `${SCHEMA_LINE}\n${readFileSync(file, 'utf8').replace(/^# yaml-language-server:.*\n/, '')}`;
      }
      const plan = initPlan(opts.template, templateText);
      const always = plan.files.filter((f) => !f.placeholder);
      const clashes = always.map((f) => f.path).filter((f) => existsSync(path.join(io.cwd, f)));
      if (clashes.length && !opts.force) {
        io.stderr.write(`error: ${clashes.join(' and ')} already exist${clashes.length === 1 ? 's' : ''}; nothing was written\n  = hint: pass --force to overwrite\n`);
        throw new ExitError(EXIT.usage);
      }
      const written: string[] = [];
      for (const f of plan.files) {
        const target = path.join(io.cwd, f.path);
        if (f.placeholder && existsSync(target)) continue;
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, f.text);
        written.push(f.path);
      }
      if (addGitignoreLines(path.join(io.cwd, '.gitignore'))) written.push('.gitignore');
      io.stdout.write(`wrote ${written.join(', ')}\nnext:\n${plan.next.map((l) => `  ${l}\n`).join('')}`);
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
