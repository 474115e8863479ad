// Writes cassette.json: the model's answers for an offline run of this example (SPEC sections 12, 13).
// The story: three approaches run at once, each in its own copy of the workspace.
// - attempt[1] (minimal) strips anything not a-z0-9: accents and the empty title fail twice
//   (satisfaction 0.33), so it does not converge;
// - attempt[2] (table-driven) maps accented letters through a table in table.js and refuses an
//   empty title: every scenario passes (1.00);
// - attempt[3] (unicode-normalize) strips diacritics with normalize('NFD') from diacritics.js but
//   forgets the empty title (0.67, enough for threshold 0.6).
// The join picks attempt[2]: its slug.js and table.js reach the workspace; diacritics.js never does.
// Run `node make-cassette.mjs` after editing it.
import { writeFileSync } from 'node:fs';

const MODEL = 'claude-sonnet-4-5';

const MINIMAL = `const title = process.argv[2] ?? '';
console.log(title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''));
`;

const TABLE = `// Accented letters and their plain letter.
export const PLAIN = {
  à: 'a', á: 'a', â: 'a', ä: 'a', ã: 'a', å: 'a', ç: 'c', è: 'e', é: 'e', ê: 'e', ë: 'e',
  ì: 'i', í: 'i', î: 'i', ï: 'i', ñ: 'n', ò: 'o', ó: 'o', ô: 'o', ö: 'o', õ: 'o',
  ù: 'u', ú: 'u', û: 'u', ü: 'u', ý: 'y', ÿ: 'y',
};
`;

const TABLE_SLUG = `import { PLAIN } from './table.js';

export function slug(title) {
  const plain = [...title.toLowerCase()].map((ch) => PLAIN[ch] ?? ch).join('');
  return plain.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

const out = slug(process.argv[2] ?? '');
if (out === '') {
  process.stderr.write('slug: the title has no letter or digit\\n');
  process.exitCode = 2;
} else {
  console.log(out);
}
`;

const DIACRITICS = `// Combining marks, as normalize('NFD') splits them from their letter.
export const MARKS = /[\\u0300-\\u036f]/g;
`;

const NORMALIZE_SLUG = `import { MARKS } from './diacritics.js';

const title = process.argv[2] ?? '';
console.log(title.normalize('NFD').replace(MARKS, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, ''));
`;

let n = 0;
const message = (content, stop, usage) => ({
  id: `msg_best_${String(++n).padStart(2, '0')}`,
  type: 'message',
  role: 'assistant',
  model: MODEL,
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...usage },
});
const text = (t, usage) => message([{ type: 'text', text: t }], 'end_turn', usage);
const tools = (calls, usage, say) =>
  message(
    [...(say ? [{ type: 'text', text: say }] : []), ...calls.map(([name, input], i) => ({ type: 'tool_use', id: `toolu_best_${n + 1}_${i + 1}`, name, input }))],
    'tool_use',
    usage,
  );
const write = (files) => files.map(([path, content]) => ['write_file', { path, content }]);

/** One iteration of one approach: write the files, then say what was done. */
const iteration = (instance, it, files, say, done) => [
  { stage: `attempt[${instance}].generate`, iteration: it, call: 1, response: tools(write(files), { input_tokens: 640, output_tokens: 180 + files.reduce((s, [, c]) => s + Math.ceil(c.length / 4), 0) }, say) },
  { stage: `attempt[${instance}].generate`, iteration: it, call: 2, response: text(done, { input_tokens: 880, output_tokens: 40 }) },
];

const calls = [
  ...iteration(1, 1, [['slug.js', MINIMAL]], 'The minimal approach: one regular expression.', 'slug.js lower-cases the title and turns every run of other characters into one dash.'),
  ...iteration(1, 2, [['slug.js', MINIMAL]], 'The failed scenarios name accents and the empty title; keeping it minimal.', 'slug.js is unchanged: still one regular expression.'),
  ...iteration(2, 1, [['table.js', TABLE], ['slug.js', TABLE_SLUG]], 'A table of accented letters, then the dashes.', 'table.js maps accented letters to plain ones; slug.js uses it and refuses a title with no letter or digit (exit 2).'),
  ...iteration(3, 1, [['diacritics.js', DIACRITICS], ['slug.js', NORMALIZE_SLUG]], "Unicode's own decomposition strips the accents.", "slug.js strips combining marks after normalize('NFD'), then makes the dashes."),
];

writeFileSync(new URL('./cassette.json', import.meta.url), `${JSON.stringify({ version: 1, calls }, null, 2)}\n`);
console.log(`cassette.json: ${calls.length} calls`);
