#!/usr/bin/env node
// Isolated fan-out instances (docs/fan-out.md): preparing 8 copies of a workspace of 5,000 files
// (50 MB), as `isolate: true` does for 8 instances starting at once, with factory's own copy
// (src/workspace/isolate.ts: copyFile with COPYFILE_FICLONE, a reflink where the file system has
// them), against `cp -r` of the same tree (8 processes at once) and `git worktree add` (one after
// the other: git locks the repository's worktree list), measured in this same run. Prints the
// median wall time of each, the ratios, factory's peak memory (in a child process of its own)
// and the disk the copies take. Figures only; nothing is asserted. Run `npm run build` first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fmt, median, ROOT } from './lib/measure.mjs';
import { tempDir } from './lib/temp.mjs';

const FILES = Number(process.env.BENCH_FILES ?? 5000);
const FILE_BYTES = Number(process.env.BENCH_FILE_BYTES ?? 10_240);
const COPIES = Number(process.env.BENCH_COPIES ?? 8);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

const base = tempDir('factory-bench-fanout-');
const src = path.join(base, 'workspace');
/** A tree like a small repository: 50 folders of 100 files, 10 KB each, committed to git. */
function makeWorkspace() {
  const perDir = 100;
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(src, `pkg${Math.floor(i / perDir)}`, 'src');
    if (i % perDir === 0) mkdirSync(dir, { recursive: true });
    const line = `export const value${i} = ${JSON.stringify('x'.repeat(60))};\n`;
    writeFileSync(path.join(dir, `file${i}.js`), line.repeat(Math.ceil(FILE_BYTES / line.length)).slice(0, FILE_BYTES));
  }
  const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: src, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'workspace');
}

/** Runs `fn` with a fresh destination folder each time; returns the median milliseconds. */
async function timed(name, fn) {
  const times = [];
  for (let r = 0; r < REPEAT; r++) {
    const dest = path.join(base, `${name}-${r}`);
    mkdirSync(dest, { recursive: true });
    const start = process.hrtime.bigint();
    await fn(dest);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (r < REPEAT - 1) cleanup(dest);
    else last[name] = dest;
  }
  return median(times);
}
const last = {};

function cleanup(dest) {
  spawnSync('git', ['worktree', 'prune'], { cwd: src });
  rmSync(dest, { recursive: true, force: true });
  spawnSync('git', ['worktree', 'prune'], { cwd: src });
}

/** factory's copies, in a child process of their own, so its peak memory is the copy's alone. */
function factoryCopies(dest) {
  const code = `
    const { copyWorkspace } = await import(${JSON.stringify(path.join(ROOT, 'dist/workspace/isolate.js'))});
    const before = process.resourceUsage().maxRSS;
    await Promise.all(Array.from({ length: ${COPIES} }, (_, i) => copyWorkspace(${JSON.stringify(src)}, ${JSON.stringify(dest)} + '/attempt[' + (i + 1) + ']')));
    process.stdout.write(JSON.stringify({ before, after: process.resourceUsage().maxRSS }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  memory.push(JSON.parse(r.stdout));
}
const memory = [];

function cpCopies(dest) {
  return Promise.all(Array.from({ length: COPIES }, (_, i) => new Promise((resolve, reject) => {
    const child = spawn('cp', ['-r', src, path.join(dest, `copy${i + 1}`)], { stdio: 'ignore' });
    child.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`cp exited ${c}`))));
  })));
}

function worktrees(dest) {
  for (let i = 0; i < COPIES; i++) execFileSync('git', ['worktree', 'add', '-q', '--detach', path.join(dest, `tree${i + 1}`)], { cwd: src, stdio: 'pipe' });
}

function diskKB(dir) {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);
}

makeWorkspace();
const srcKB = diskKB(path.join(src)) - diskKB(path.join(src, '.git'));
console.log(`workspace: ${FILES} files, ${(srcKB / 1024).toFixed(1)} MB on disk (without .git) · ${COPIES} copies · median of ${REPEAT}`);
const factory = await timed('factory', factoryCopies);
const cp = await timed('cp', cpCopies);
const git = await timed('git', worktrees);
const rss = median(memory.map((m) => m.after));
console.log(`factory (copyFile, COPYFILE_FICLONE, 8 at once)  ${fmt(factory).padStart(8)}   peak RSS ${(rss / 1024).toFixed(0)} MB (node alone ${(median(memory.map((m) => m.before)) / 1024).toFixed(0)} MB)   disk ${(diskKB(last.factory) / 1024).toFixed(0)} MB`);
console.log(`cp -r (8 at once, .git included)                 ${fmt(cp).padStart(8)}   disk ${(diskKB(last.cp) / 1024).toFixed(0)} MB`);
console.log(`git worktree add (8 in turn)                      ${fmt(git).padStart(8)}   disk ${(diskKB(last.git) / 1024).toFixed(0)} MB`);
console.log(`ratios: factory / cp -r = ${(factory / cp).toFixed(2)} · factory / git worktree = ${(factory / git).toFixed(2)} (below 1: factory is faster)`);
console.log('(disk: a reflink copy shares its blocks with the original and shows as taken by du; on ext4, as here when `df -T` says so, every copy is a real copy)');
cleanup(last.git);
