/**
 * What `factory init` writes for each starting point, and the next steps it prints: the starter
 * (the default) and the built-in templates, each with only the files it reads.
 */

export const SCHEMA_LINE = '# yaml-language-server: $schema=node_modules/software-factory/schemas/factory.schema.json';

/** The file `factory init` writes so that the starter runs offline: `factory apply --replay starter.cassette.json`. */
export const STARTER_CASSETTE = 'starter.cassette.json';

// The worst case `factory plan` prints must fit the budget: 1 plan call and 3 iterations of at
// most 15 generate turns, each at most 8192 output tokens, come to about $3.80 of the $5.
export const STARTER = `${SCHEMA_LINE}
version: 1
name: my-factory
description: Turn SPEC.md into tested code, looping until the held-out scenarios pass.

params:
  spec: { type: string, default: SPEC.md, description: The specification to implement }

defaults:
  provider: anthropic          # anthropic | openai | replay (\`factory apply --replay ${STARTER_CASSETTE}\` runs offline)
  model: claude-sonnet-5-5
  max_tokens: 8192
  timeout: 10m

budget:                        # for the whole run: the run stops (exit 3) when one is spent
  tokens: 1M
  cost_usd: 5
  wall_time: 30m

stages:
  plan:
    kind: plan
    prompt: Write a short implementation plan for the specification below.
    context: ["\${{ params.spec }}"]

  build:
    kind: loop
    needs: [plan]
    max_iterations: 3
    until: \${{ stages.validate.outputs.passed }}
    stages:
      generate:
        kind: generate
        prompt: |
          Implement this plan: \${{ stages.plan.outputs.text }}
          Feedback from the previous attempt: \${{ loop.previous.validate.outputs.feedback }}
        context: ["\${{ params.spec }}"]
        max_turns: 15
      validate:
        kind: scenario-validate
        needs: [generate]
        scenarios: scenarios/*.yaml   # held out: the generate stage can never read these
        threshold: 1.0
`;

export const SCENARIO = `# A held-out scenario: the generate stage never sees this file; only its name and
# description come back as feedback when it fails.
name: prints a greeting
description: Running the program with a name greets that name.
steps:
  - run: node main.js Ada
    expect: { exit_code: 0, stdout_contains: "Hello, Ada" }
`;

export const SPEC = `# Specification

A command-line program \`main.js\` that prints \`Hello, NAME\` for the name given as its
first argument, and exits with code 2 and a usage message when no name is given.
`;

const BUG = `# Bug

What happens, what should happen instead, and the command that shows it.
`;

const FIRST_MAIN = `const name = process.argv[2];
console.log(\`Hello \${name}\`);
`;

const FIXED_MAIN = `const name = process.argv[2];
if (!name) {
  console.error('usage: node main.js NAME');
  process.exit(2);
}
console.log(\`Hello, \${name}\`);
`;

/**
 * Recorded answers for the starter as written (the cassette format of `factory schema cassette`):
 * iteration 1 writes a greeting without the comma, the held-out scenario fails, its name and
 * description reach iteration 2 as feedback, and iteration 2 fixes it, so the loop converges.
 */
function starterCassette(): string {
  let n = 0;
  const usage = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  const message = (content: unknown[], stop: string, u: ReturnType<typeof usage>) => ({
    id: `msg_starter_${String(++n).padStart(2, '0')}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-5-5',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: u,
  });
  const text = (t: string, u: ReturnType<typeof usage>) => message([{ type: 'text', text: t }], 'end_turn', u);
  const write = (say: string, content: string, u: ReturnType<typeof usage>) =>
    message([{ type: 'text', text: say }, { type: 'tool_use', id: `toolu_starter_${n + 1}`, name: 'write_file', input: { path: 'main.js', content } }], 'tool_use', u);
  const calls = [
    { stage: 'plan', iteration: 0, call: 1, response: text('1. Write main.js: read the name from the first argument and print `Hello, NAME`.\n2. With no name, print a usage message to stderr and exit with code 2.', usage(180, 45)) },
    { stage: 'build.generate', iteration: 1, call: 1, response: write('I will write main.js.', FIRST_MAIN, usage(420, 70)) },
    { stage: 'build.generate', iteration: 1, call: 2, response: text('Wrote main.js: it greets the name given as its first argument.', usage(530, 20)) },
    { stage: 'build.generate', iteration: 2, call: 1, response: write('The scenario "prints a greeting" failed: the greeting lacks its comma, and a missing name is not handled.', FIXED_MAIN, usage(470, 110)) },
    { stage: 'build.generate', iteration: 2, call: 2, response: text('main.js now prints `Hello, NAME` and exits 2 with a usage message when no name is given.', usage(620, 28)) },
  ];
  return `${JSON.stringify({ version: 1, calls }, null, 2)}\n`;
}

/** A file init writes: `always` ones are refused without --force when they exist; placeholders are written only when missing. */
export interface InitFile {
  path: string;
  text: string;
  placeholder?: boolean;
}

export interface InitPlan {
  files: InitFile[];
  /** The lines after "next:", commands in the one form the docs use (`factory` on the PATH). */
  next: string[];
}

const LIVE = 'ANTHROPIC_API_KEY=… factory apply              # run it live: every model stage asks for the key';

/** The files and next steps for the starter (template undefined) or a built-in template's text. */
export function initPlan(template: string | undefined, templateText: string): InitPlan {
  const pipeline = (text: string): InitFile => ({ path: 'factory.yaml', text });
  switch (template) {
    case undefined:
      return {
        files: [pipeline(STARTER), { path: 'scenarios/example.yaml', text: SCENARIO }, { path: 'SPEC.md', text: SPEC, placeholder: true }, { path: STARTER_CASSETTE, text: starterCassette() }],
        next: [
          'factory plan                                   # the stages, models and worst-case cost',
          `factory apply --replay ${STARTER_CASSETTE}   # offline: the model's answers come from the cassette`,
          'then edit SPEC.md and scenarios/, and',
          LIVE,
        ],
      };
    case 'spec-to-code':
      return {
        files: [pipeline(templateText), { path: 'scenarios/example.yaml', text: SCENARIO }, { path: 'SPEC.md', text: SPEC, placeholder: true }],
        next: [
          'describe what to build in SPEC.md and how to check it in scenarios/ (held out from the agent);',
          'the loop runs `npm test` (another command: factory apply --set test_command=CMD)',
          'factory plan',
          LIVE,
        ],
      };
    case 'bugfix':
      return {
        files: [pipeline(templateText), { path: 'BUG.md', text: BUG, placeholder: true }],
        next: [
          'describe the bug in BUG.md; the fix loop runs `npm test` until it passes',
          '(another command that fails while the bug is present: factory apply --set reproduce=CMD)',
          'factory plan',
          LIVE,
        ],
      };
    case 'review-only':
      return {
        files: [pipeline(templateText)],
        next: [
          'the review judges what changed in the workspace since the run started: add the stages that',
          'make a change before it, or call it from another pipeline with `uses: builtin:review-only`',
          'factory plan',
          LIVE,
        ],
      };
    default:
      // A template added to pipelines/ without its own entry here: the pipeline alone.
      return { files: [pipeline(templateText)], next: ['factory plan', LIVE] };
  }
}
