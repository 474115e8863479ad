import { readFileSync, readdirSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
const schema = JSON.parse(readFileSync('/work/wt/records/schemas/run.schema.json','utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true }); ajv.addSchema(schema);
const root = process.argv[2];
for (const id of readdirSync(root)) {
  const dir = `${root}/${id}`;
  const v = ajv.getSchema(schema.$id);
  const rec = JSON.parse(readFileSync(`${dir}/run.json`,'utf8'));
  console.log(id, 'run.json', v(rec), JSON.stringify(v.errors));
  const je = ajv.getSchema(schema.$id + '#/$defs/journal_event');
  for (const f of readdirSync(`${dir}/journal`)) for (const l of readFileSync(`${dir}/journal/${f}`,'utf8').split('\n').filter(Boolean)) { if (!je(JSON.parse(l))) console.log('bad line', l.slice(0,200), JSON.stringify(je.errors)); }
}
