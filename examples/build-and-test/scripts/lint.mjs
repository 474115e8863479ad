// Fails on tabs, trailing spaces or a missing final newline in the .js files of a directory.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? 'src';
let problems = 0;
for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
  const text = readFileSync(path.join(dir, name), 'utf8');
  text.split('\n').forEach((line, i) => {
    if (/\t/.test(line)) report(name, i, 'tab');
    if (/ +$/.test(line)) report(name, i, 'trailing spaces');
  });
  if (!text.endsWith('\n')) report(name, text.split('\n').length - 1, 'no final newline');
}
function report(name, i, what) {
  problems++;
  console.error(`${path.join(dir, name)}:${i + 1}: ${what}`);
}
console.log(problems === 0 ? 'lint: clean' : `lint: ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
