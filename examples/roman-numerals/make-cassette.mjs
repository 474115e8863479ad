// Writes cassette.json: the model's answers for an offline run of this example (SPEC section 12).
// The story it tells: iteration 1 writes a converter that forgets to reject bad input, the
// held-out scenario "rejects bad input" fails, its name and description reach iteration 2's
// prompt as feedback, and iteration 2 fixes it. Run `node make-cassette.mjs` after editing it.
// A live run can replace it: `factory apply --provider anthropic --record cassette.json`.
import { writeFileSync } from 'node:fs';

const MODEL = 'claude-sonnet-4-5';

const FIRST = `const NUMERALS = [
  [1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'],
  [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I'],
];

export function toRoman(n) {
  let out = '';
  for (const [value, symbol] of NUMERALS) {
    while (n >= value) {
      out += symbol;
      n -= value;
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === new URL(process.argv[1], 'file://').href) {
  console.log(toRoman(Number(process.argv[2])));
}
`;

const FIXED = `import { pathToFileURL } from 'node:url';

const NUMERALS = [
  [1000, 'M'], [900, 'CM'], [500, 'D'], [400, 'CD'], [100, 'C'], [90, 'XC'],
  [50, 'L'], [40, 'XL'], [10, 'X'], [9, 'IX'], [5, 'V'], [4, 'IV'], [1, 'I'],
];

const VALID = 'a whole number from 1 to 3999';

/** The Roman numeral for a whole number from 1 to 3999. */
export function toRoman(n) {
  if (!Number.isInteger(n) || n < 1 || n > 3999) throw new RangeError(\`expected \${VALID}, got \${n}\`);
  let out = '';
  for (const [value, symbol] of NUMERALS) {
    while (n >= value) {
      out += symbol;
      n -= value;
    }
  }
  return out;
}

function main(args) {
  const text = args[0] ?? '';
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 3999)) {
    process.stderr.write(\`roman: "\${text}" is not valid: give \${VALID}\\n\`);
    return 2;
  }
  process.stdout.write(\`\${toRoman(n)}\\n\`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
`;

let n = 0;
const message = (content, stop, usage) => ({
  id: `msg_roman_${String(++n).padStart(2, '0')}`,
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
    [...(say ? [{ type: 'text', text: say }] : []), ...calls.map(([name, input], i) => ({ type: 'tool_use', id: `toolu_roman_${n + 1}_${i + 1}`, name, input }))],
    'tool_use',
    usage,
  );

const calls = [
  {
    stage: 'plan',
    iteration: 0,
    call: 1,
    response: text(
      [
        '1. Create roman.js as an ES module exporting `toRoman(n)`, built on a table of values and symbols',
        '   in descending order, subtractive pairs (CM, CD, XC, XL, IX, IV) included; subtract greedily.',
        '2. When run as a program, convert the first argument and print it.',
        '3. Check with `npm test` (test.js covers the subtractive cases and 3999).',
      ].join('\n'),
      { input_tokens: 412, output_tokens: 96 },
    ),
  },
  // Iteration 1: a converter that forgets the spec's rules for bad input.
  { stage: 'build.generate', iteration: 1, call: 1, response: tools([['write_file', { path: 'roman.js', content: FIRST }]], { input_tokens: 318, cache_creation_input_tokens: 1642, output_tokens: 402 }, 'I will write the converter.') },
  { stage: 'build.generate', iteration: 1, call: 2, response: tools([['run_command', { command: 'npm test' }]], { input_tokens: 96, cache_read_input_tokens: 1642, output_tokens: 38 }) },
  { stage: 'build.generate', iteration: 1, call: 3, response: text('Wrote roman.js: `toRoman` with the subtractive table, and a command line that prints the numeral. npm test passes.', { input_tokens: 131, cache_read_input_tokens: 1642, output_tokens: 41 }) },
  {
    stage: 'build.review',
    iteration: 1,
    call: 1,
    response: tools(
      [['submit_review', {
        verdict: 'request_changes',
        score: 0.6,
        findings: [{ severity: 'major', file: 'roman.js', line: 17, message: 'The command line prints an empty line for 0, negatives, 4000 and text; SPEC.md asks for an error on stderr and exit code 2.' }],
        summary: 'The conversion is right, but bad input is not rejected.',
      }]],
      { input_tokens: 1288, output_tokens: 143 },
    ),
  },
  // Iteration 2: the feedback named "rejects bad input"; the agent checks and fixes it.
  {
    stage: 'build.generate',
    iteration: 2,
    call: 1,
    response: tools([['run_command', { command: 'node roman.js 0' }]], { input_tokens: 402, cache_creation_input_tokens: 1642, output_tokens: 61 }, 'The held-out scenario "rejects bad input" failed. Let me see what roman.js does with 0.'),
  },
  { stage: 'build.generate', iteration: 2, call: 2, response: tools([['write_file', { path: 'roman.js', content: FIXED }]], { input_tokens: 139, cache_read_input_tokens: 1642, output_tokens: 588 }, 'It prints an empty line and exits 0. Rejecting anything but 1 to 3999:') },
  { stage: 'build.generate', iteration: 2, call: 3, response: tools([['run_command', { command: 'node roman.js twelve' }]], { input_tokens: 74, cache_read_input_tokens: 1642, output_tokens: 30 }) },
  { stage: 'build.generate', iteration: 2, call: 4, response: text('roman.js now refuses 0, negatives, numbers above 3999 and text with exit code 2 and a message naming the valid range; toRoman throws a RangeError for them.', { input_tokens: 97, cache_read_input_tokens: 1642, output_tokens: 44 }) },
  {
    stage: 'build.review',
    iteration: 2,
    call: 1,
    response: tools(
      [['submit_review', { verdict: 'approve', score: 0.93, findings: [{ severity: 'info', file: 'roman.js', line: 25, message: 'The argument is validated with a regular expression, so "+12" and "1e3" are refused as well; that matches the spec.' }], summary: 'Correct and small; bad input is refused as specified.' }]],
      { input_tokens: 1874, output_tokens: 121 },
    ),
  },
  {
    stage: 'build.validate',
    iteration: 2,
    call: 1,
    scenario: 'rejects bad input',
    run: 1,
    response: tools([['submit_score', { score: 0.9, reason: 'Every error message names the valid range, 1 to 3999.' }]], { input_tokens: 566, output_tokens: 47 }),
  },
];

writeFileSync(new URL('./cassette.json', import.meta.url), `${JSON.stringify({ version: 1, calls }, null, 2)}\n`);
console.log(`cassette.json: ${calls.length} calls`);
