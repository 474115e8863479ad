import Ajv2020 from 'ajv/dist/2020.js';
import fs from 'node:fs';
import { parse } from 'yaml';
const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true });
const s = JSON.parse(fs.readFileSync('schemas/factory.schema.json','utf8'));
const v = ajv.compile(s);
const spec = fs.readFileSync('/work/shared/SPEC.md','utf8');
const ex = spec.match(/```yaml\n(# yaml-language-server[\s\S]*?)```/)[1];
const doc = parse(ex);
console.log(v(doc), v.errors);
const cases = {
  top: { version: 1, stages: { a: { kind: 'command', run: 'x' } }, nmae: 1 },
  cmdkey: { version: 1, stages: { a: { kind: 'command', run: 'x', rn: 1 } } },
  norun: { version: 1, stages: { a: { kind: 'command' } } },
  loop: { version: 1, stages: { a: { kind: 'loop', stages: { b: { kind: 'command', run: 'x' } } } } },
  kind: { version: 1, stages: { a: { kind: 'comand', run: 'x' } } },
  nokind: { version: 1, stages: { a: { run: 'x' } } },
  dur: { version: 1, stages: { a: { kind: 'command', run: 'x', timeout: '5 minutes' } } },
  id: { version: 1, stages: { A: { kind: 'command', run: 'x' } } },
  retries: { version: 1, stages: { a: { kind: 'loop', max_iterations: 2, retries: 1, stages: { b: { kind: 'command', run: 'x' } } } } },
  ext: { version: 1, extends: 'builtin:x', stages: { review: null, a: { kind: 'command', run: 'x', bad: 1 } } },
  nostages: { version: 1 },
  withNoExt: { version: 1, with: {a: 1}, stages: { a: { kind: 'command', run: 'x' } } },
};
for (const [k, d] of Object.entries(cases)) { v(d); console.log(k, JSON.stringify(v.errors?.map(e => [e.keyword, e.instancePath, e.message, e.params]))); }
