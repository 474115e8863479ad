// bench/validate: how much a cold `factory validate` costs over starting Node at all, and how
// validate + plan scale to a 10,000-stage pipeline (time and peak memory).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from './lib/temp.mjs';
import path from 'node:path';
import { BIN, ROOT, fmt, medianOf, timeCommand } from './lib/measure.mjs';

const dir = tempDir('factory-bench-validate-');
// The complete example of the language reference (a plan and a four-stage loop), kept in bench/inputs/.
const example = readFileSync(path.join(ROOT, 'bench', 'inputs', 'spec-example.yaml'), 'utf8');
writeFileSync(path.join(dir, 'factory.yaml'), example);
writeFileSync(path.join(dir, 'SPEC.md'), '# spec\n');
mkdirSync(path.join(dir, 'scenarios'));
writeFileSync(path.join(dir, 'scenarios', 'one.yaml'), 'name: one\nsteps:\n  - run: "true"\n    expect: { exit_code: 0 }\n');

const runs = 15;
const nodeBare = medianOf(runs, () => timeCommand(process.execPath, ['-e', '0']));
const validate = medianOf(runs, () => timeCommand(process.execPath, [BIN, 'validate'], { cwd: dir }));
console.log('cold start (median of %d)', runs);
console.log(`  node -e 0                      ${fmt(nodeBare)}`);
console.log(`  factory validate (SPEC §1)     ${fmt(validate)}   (+${fmt(validate - nodeBare)} over node; goal ≤ +100 ms)`);

// 10,000 stages in layers of 10, each needing one stage of the layer before: flow style keeps
// the file under the 1 MiB limit.
const big = path.join(dir, 'big');
mkdirSync(big);
const lines = ['version: 1', 'name: big', 'stages:'];
for (let i = 0; i < 10_000; i++) {
  const needs = i >= 10 ? `, needs: [s${i - 10}]` : '';
  lines.push(`  s${i}: { kind: command, run: ["true"]${needs} }`);
}
writeFileSync(path.join(big, 'factory.yaml'), `${lines.join('\n')}\n`);
const measure = (cmd) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench/lib/rss-child.mjs'), cmd], { cwd: big, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const out = JSON.parse(r.stdout);
  if (out.code !== 0) throw new Error(`${cmd} exited ${out.code}`);
  return { ms, mb: out.maxRssKB / 1024 };
};
const v = measure('validate');
const p = measure('plan');
console.log('10,000-stage pipeline');
console.log(`  validate   ${fmt(v.ms)}   peak RSS ${v.mb.toFixed(0)} MB`);
console.log(`  plan       ${fmt(p.ms)}   peak RSS ${p.mb.toFixed(0)} MB   (goal: each under 1.5 s and 300 MB)`);
