// Preloaded (node -r) by bench/validate into each process it times: at exit, appends the
// process's CPU time (user + system, every thread, from its start) to $BENCH_CPU_FILE. On a busy
// machine wall times wander with the load; CPU time is what the start itself costs.
'use strict';
const file = process.env.BENCH_CPU_FILE;
if (file) {
  process.on('exit', () => {
    const { user, system } = process.cpuUsage();
    require('node:fs').appendFileSync(file, `${(user + system) / 1000}\n`);
  });
}
