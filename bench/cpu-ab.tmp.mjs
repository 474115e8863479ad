// ad-hoc: interleaved CPU medians of command variants
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
const cpuFile = '/tmp/cpu-ab.txt';
const pre = ['-r', '/work/main/bench/lib/cpu-report.cjs'];
const variants = JSON.parse(process.argv[2]);
const res = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const N = Number(process.env.N ?? 21);
for (let i = 0; i < N; i++) for (const [k, args] of Object.entries(variants)) {
  writeFileSync(cpuFile, '');
  const t0 = performance.now();
  spawnSync(process.execPath, [...pre, ...args], { cwd: process.env.CWD ?? process.cwd(), env: { ...process.env, BENCH_CPU_FILE: cpuFile }, stdio: 'ignore' });
  res[k].push([performance.now() - t0, Number(readFileSync(cpuFile, 'utf8'))]);
}
const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(12), 'wall', med(v.map((x) => x[0])).toFixed(1), 'cpu', med(v.map((x) => x[1])).toFixed(1));
