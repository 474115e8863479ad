import path from 'node:path';
import type { Command } from 'commander';
import { type CliIO } from '../base/io.js';
import { loadPipeline } from '../config/index.js';
import { didYouMean } from '../config/suggest.js';
import { lastWritten, warningText, type Learning } from '../learnings/learning.js';
import { freshnessOf, type Freshness } from '../learnings/staleness.js';
import { learningsDirOf } from '../config/learnings.js';
import { findByTitle, readStore, removeLearning, type Store } from '../learnings/store.js';
import { EXIT, ExitError } from './exit.js';
import { printDiagnostics } from './print-diagnostics.js';
import { table } from './table.js';

/**
 * `factory learnings [list|show TITLE|prune [--dry-run]]` (docs/learnings.md): the learnings
 * under the pipeline's `learnings.dir`, each fresh or stale (a file it names changed or is gone).
 */
export function registerLearnings(program: Command, io: CliIO): Command {
  const cmd = program.command('learnings').description('list, show and prune the learnings that learn stages wrote (fresh or stale)');
  cmd
    .command('list', { isDefault: true })
    .description('list the learnings, fresh or stale, with their tags and age')
    .argument('[file]', 'factory.yaml, or its directory (default: the current directory)')
    .option('--json', 'print the learnings as JSON')
    .action((file: string | undefined, opts: { json?: boolean }) => {
      const { workspace, store } = open(io, file, 'list');
      const rows = store.learnings.map((l) => ({ l, f: freshnessOf(l, workspace) }));
      if (opts.json) {
        const out = rows.map(({ l, f }) => ({ title: l.title, file: l.at, stale: f.stale, changed: f.changed, tags: l.tags, files: l.files.map((x) => x.path), created: l.created, updated: l.updated ?? null, run: l.run ?? null, stage: l.stage ?? null }));
        io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        io.stdout.write('no learnings yet: a `kind: learn` stage writes them\n');
        return;
      }
      const now = Date.now();
      io.stdout.write(`${table(['title', 'state', 'tags', 'age', 'file'], rows.map(({ l, f }) => [l.title, stateOf(f), l.tags.join(', ') || '-', ageOf(lastWritten(l), now), l.at]))}\n`);
    });
  cmd
    .command('show')
    .description('print one learning: its state, files, tags and text')
    .argument('<title>', 'the title of the learning (case does not matter)')
    .argument('[file]', 'factory.yaml, or its directory (default: the current directory)')
    .action((title: string, file: string | undefined) => {
      const { workspace, store } = open(io, file, 'show');
      const l = findByTitle(store, title);
      if (!l) {
        const titles = store.learnings.map((x) => x.title);
        io.stderr.write(`factory learnings show: no learning titled "${title}"${didYouMean(title, titles)}; \`factory learnings list\` shows the titles\n`);
        throw new ExitError(EXIT.usage);
      }
      io.stdout.write(shown(l, freshnessOf(l, workspace)));
    });
  cmd
    .command('prune')
    .description('remove the stale learnings (a file they name changed or is gone)')
    .argument('[file]', 'factory.yaml, or its directory (default: the current directory)')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .action((file: string | undefined, opts: { dryRun?: boolean }) => {
      const { workspace, store } = open(io, file, 'prune');
      const stale = store.learnings.filter((l) => freshnessOf(l, workspace).stale);
      for (const l of stale) {
        if (!opts.dryRun) removeLearning(workspace, l);
        io.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} ${l.at} (${l.title})\n`);
      }
      io.stdout.write(`${stale.length} stale learning${stale.length === 1 ? '' : 's'} ${opts.dryRun ? 'would be removed' : 'removed'}; ${store.learnings.length - stale.length} fresh kept\n`);
    });
  return cmd;
}

/** The workspace and its store; broken learning files are warnings on stderr, the rest is used. */
function open(io: CliIO, file: string | undefined, sub: string): { workspace: string; store: Store } {
  const loaded = loadPipeline(file, { cwd: io.cwd, forRun: false });
  if (!loaded.ok) {
    printDiagnostics(io, loaded.diagnostics, loaded.sources);
    io.stderr.write(`factory learnings ${sub}: the pipeline has problems (above); fix them, \`factory validate\` checks it\n`);
    throw new ExitError(EXIT.usage);
  }
  const workspace = loaded.pipeline.dir;
  const store = readStore(workspace, learningsDirOf(loaded.pipeline.config));
  for (const w of store.warnings) io.stderr.write(`warning: ${warningText({ ...w, file: path.relative(io.cwd, path.join(workspace, w.file)) || w.file })}\n`);
  return { workspace, store };
}

function stateOf(f: Freshness): string {
  return f.stale ? `stale (${f.changed.join(', ')} changed)` : 'fresh';
}

function ageOf(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m}m`;
  if (m < 48 * 60) return `${Math.floor(m / 60)}h`;
  return `${Math.floor(m / 1440)}d`;
}

function shown(l: Learning, f: Freshness): string {
  const lines = [
    `# ${l.title}`,
    '',
    `state:   ${stateOf(f)}`,
    `file:    ${l.at}`,
    `tags:    ${l.tags.join(', ') || '-'}`,
    `about:   ${l.files.map((x) => x.path).join(', ') || '-'}`,
    `written: ${l.created}${l.updated ? ` (updated ${l.updated})` : ''}${l.run ? ` by run ${l.run}` : ''}${l.stage ? `, stage ${l.stage}` : ''}`,
    '',
    l.body,
  ];
  return `${lines.join('\n')}\n`;
}
