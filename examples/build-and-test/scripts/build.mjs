// Copies src/*.js to $OUT_DIR with $BANNER on top; prints {"files": [...]} for `parse: json`.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const out = process.env.OUT_DIR || 'dist';
const banner = process.env.BANNER || 'built';
mkdirSync(out, { recursive: true });
const files = [];
for (const name of readdirSync('src').filter((n) => n.endsWith('.js'))) {
  writeFileSync(path.join(out, name), `// ${banner}\n${readFileSync(path.join('src', name), 'utf8')}`);
  files.push(path.join(out, name));
}
console.log(JSON.stringify({ files }));
