// One racer of lock-race.test.ts: a real process taking the workspace lock through the built
// module, round after round, against the other racers. Arguments: the built lock module, the
// folder of the rounds, the number of rounds, this racer's index, the number of racers.
// Prints one JSON array: per round, "held" or the refusal's message. A racer that took a lock
// never releases it and stays alive until every racer has finished, so its lock stays live.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [lockModule, base, roundsText, indexText, racersText] = process.argv.slice(2);
const { acquireLock } = await import(pathToFileURL(lockModule).href);
const rounds = Number(roundsText);
const racers = Number(racersText);
const nap = new Int32Array(new SharedArrayBuffer(4));

/** Waits until every racer has reached `name` in `dir`. */
function barrier(dir, name) {
  writeFileSync(path.join(dir, `${name}-${indexText}`), '');
  while (readdirSync(dir).filter((f) => f.startsWith(`${name}-`)).length < racers) Atomics.wait(nap, 0, 0, 1);
}

const results = [];
for (let r = 0; r < rounds; r++) {
  const ws = path.join(base, `round-${r}`);
  barrier(ws, 'arrived');
  const lock = acquireLock(ws, `racer-${indexText}-round-${r}`);
  if (lock.ok) writeFileSync(path.join(ws, `held-${indexText}`), '');
  results.push(lock.ok ? 'held' : lock.message);
}
barrier(base, 'done');
process.stdout.write(JSON.stringify(results));
