import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT, runBuilt } from '../../support/cli.js';

function workspace(files: Record<string, string>): string {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-templates-run-')));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function runJson(dir: string): { id: string; status: string; stages: Record<string, { status: string; outputs: Record<string, unknown> }> } {
  const runs = path.join(dir, '.factory', 'runs');
  const out = runBuilt(['runs', '--json'], dir);
  const last = (JSON.parse(out.stdout) as { id: string }[]).at(-1)!;
  return JSON.parse(readFileSync(path.join(runs, last.id, 'run.json'), 'utf8'));
}

/** A Messages API response as a cassette holds it. */
function message(content: unknown[], stop: 'end_turn' | 'tool_use') {
  return { id: 'msg_test', type: 'message', role: 'assistant', model: 'claude-sonnet-5-5', content, stop_reason: stop, stop_sequence: null, usage: { input_tokens: 100, output_tokens: 20 } };
}
const toolUse = (name: string, input: unknown) => message([{ type: 'tool_use', id: `toolu_${name}`, name, input }], 'tool_use');
const text = (t: string) => message([{ type: 'text', text: t }], 'end_turn');
const approve = toolUse('submit_review', { verdict: 'approve', score: 0.9, findings: [], summary: 'Looks right.' });
const REPLAY = 'defaults: { provider: replay, model: claude-sonnet-5-5, max_tokens: 2048 }\nproviders: { replay: { cassette: cassette.json } }\n';

describe('pipeline stages run their template', () => {
  const GREET = 'version: 1\nparams:\n  who: { type: string }\n  times: { type: integer, default: 1 }\noutputs:\n  message: ${{ stages.say.outputs.stdout }}\n  times: ${{ params.times }}\nstages:\n  say:\n    kind: command\n    env: { WHO: "${{ params.who }}" }\n    run: printf "hello %s" "$WHO"\n';

  test("its outputs feed a later stage, its stages are recorded nested, `with` is rendered in the caller's scope and typed", () => {
    const dir = workspace({
      'greet.yaml': GREET,
      'factory.yaml': 'version: 1\nstages:\n  prep: { kind: command, run: printf world }\n  greet:\n    kind: pipeline\n    needs: [prep]\n    uses: ./greet.yaml\n    with: { who: "${{ stages.prep.outputs.stdout }}", times: "${{ 2 }}" }\n  after:\n    kind: command\n    needs: [greet]\n    env: { MSG: "${{ stages.greet.outputs.message }} x${{ stages.greet.outputs.times }}" }\n    run: printf "%s" "$MSG"\n',
    });
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(0);
    const run = runJson(dir);
    expect(run.stages['greet.say']!.status).toBe('succeeded');
    expect(run.stages.greet!.outputs).toEqual({ message: 'hello world', times: 2 });
    expect(run.stages.after!.outputs.stdout).toBe('hello world x2');
  });

  test('a failing stage inside the template fails the pipeline stage, and what depends on it is skipped', () => {
    const dir = workspace({
      'broken.yaml': 'version: 1\nstages:\n  boom: { kind: command, run: "exit 3" }\n',
      'factory.yaml': 'version: 1\nstages:\n  call: { kind: pipeline, uses: ./broken.yaml }\n  after: { kind: command, needs: [call], run: "true" }\n',
    });
    const r = runBuilt(['apply'], dir);
    expect(r.code).toBe(1);
    const run = runJson(dir);
    expect(run.stages['call.boom']!.status).toBe('failed');
    expect(run.stages.call).toMatchObject({ status: 'failed', reason: 'exit_code' });
    expect(run.stages.after!.status).toBe('skipped');
  });
});

describe('the built-in templates run from a cassette', () => {
  test('spec-to-code: the flagship example\'s files and cassette, extending the built-in, converge', () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-builtin-')));
    const example = path.join(ROOT, 'examples', 'roman-numerals');
    for (const f of ['SPEC.md', 'test.js', 'package.json', 'cassette.json', 'scenarios']) cpSync(path.join(example, f), path.join(dir, f), { recursive: true });
    writeFileSync(path.join(dir, 'factory.yaml'), `version: 1\nextends: builtin:spec-to-code\nwith: { test_command: "npm test --silent" }\n${REPLAY}`);
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(0);
    const run = runJson(dir);
    expect(run.stages.build!.outputs).toMatchObject({ iterations: 2, converged: true });
  });

  test('bugfix: confirms the failure, fixes until the command passes, reviews', () => {
    const dir = workspace({
      'BUG.md': '# Bug\n\n`node check.js` fails: fixed.txt is missing.\n',
      'check.js': "const fs = require('node:fs');\nprocess.exit(fs.existsSync('fixed.txt') && fs.readFileSync('fixed.txt', 'utf8').trim() === 'ok' ? 0 : 1);\n",
      'factory.yaml': `version: 1\nextends: builtin:bugfix\nwith: { reproduce: node check.js }\n${REPLAY}`,
      'cassette.json': JSON.stringify({
        version: 1,
        calls: [
          { stage: 'fix.generate', iteration: 1, call: 1, response: toolUse('write_file', { path: 'fixed.txt', content: 'ok\n' }) },
          { stage: 'fix.generate', iteration: 1, call: 2, response: text('Wrote fixed.txt; node check.js passes now.') },
          { stage: 'review', iteration: 0, call: 1, response: approve },
        ],
      }),
    });
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(0);
    const run = runJson(dir);
    expect(run.stages.reproduce!.status).toBe('succeeded');
    expect(run.stages.fix!.outputs).toMatchObject({ iterations: 1, converged: true });
    expect(run.stages.review!.outputs).toMatchObject({ approved: true });
    expect(readFileSync(path.join(dir, 'fixed.txt'), 'utf8')).toBe('ok\n');
  });

  test("review-only: reviews git's change against the base, and passes on an approval", () => {
    const dir = workspace({
      'factory.yaml': `version: 1\nextends: builtin:review-only\nwith: { base: main }\n${REPLAY}`,
      'cassette.json': JSON.stringify({ version: 1, calls: [{ stage: 'review', iteration: 0, call: 1, response: approve }] }),
      'greet.js': 'console.log("hello");\n',
    });
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    writeFileSync(path.join(dir, 'greet.js'), 'console.log("hello, world");\n');
    const r = runBuilt(['apply'], dir);
    expect(r.code, r.stderr).toBe(0);
    const run = runJson(dir);
    expect(run.stages.review!.outputs).toMatchObject({ verdict: 'approve', approved: true });
    const prompt = readFileSync(path.join(dir, '.factory', 'runs', run.id, 'stages', 'review.prompt.md'), 'utf8');
    expect(prompt).toContain('`git diff main`');
    expect(prompt).toContain('-console.log("hello");\n+console.log("hello, world");');
  });
});
