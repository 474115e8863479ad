/**
 * Records for the tests of `factory view`: a workspace whose runs were made by the real engine
 * (`apply` in-process, models answered from a cassette) — a plan, a loop of two iterations whose
 * generate stage writes and edits a file with its tools and whose check fails the first time, and
 * a closing command.
 */
import { readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { cli } from './cli.js';
import { workspaceWith } from './workspace-files.js';

const usage = { input_tokens: 120, output_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
const message = (id: string, content: unknown[], stop = 'end_turn') => ({ id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content, stop_reason: stop, stop_sequence: null, usage });
const tool = (id: string, name: string, input: Record<string, unknown>) => ({ type: 'tool_use', id, name, input });

export const DEMO_YAML = `version: 1
name: demo
defaults: { provider: replay, model: claude-sonnet-4-5, max_tokens: 1024 }
providers:
  replay: { cassette: cassette.json }
stages:
  plan:
    kind: plan
    prompt: Plan a greeting.
  build:
    kind: loop
    needs: [plan]
    max_iterations: 2
    until: \${{ stages.check.outputs.exit_code == 0 }}
    stages:
      generate:
        kind: generate
        prompt: Write hello.txt that greets the world.
        writes: [hello.txt]
      check:
        kind: command
        needs: [generate]
        run: grep world hello.txt
  report:
    kind: command
    needs: [build]
    run: echo all done
`;

export const DEMO_CASSETTE = {
  version: 1,
  calls: [
    { stage: 'plan', iteration: 0, call: 1, response: message('m1', [{ type: 'text', text: 'Write hello.txt, then check it greets the world.' }]) },
    { stage: 'build.generate', iteration: 1, call: 1, response: message('m2', [{ type: 'text', text: 'Writing the greeting.' }, tool('t1', 'write_file', { path: 'hello.txt', content: 'hello\n' })], 'tool_use') },
    { stage: 'build.generate', iteration: 1, call: 2, response: message('m3', [{ type: 'text', text: 'Wrote hello.txt.' }]) },
    { stage: 'build.generate', iteration: 2, call: 1, response: message('m4', [tool('t2', 'read_file', { path: '../secret.txt' }), tool('t3', 'edit_file', { path: 'hello.txt', old: 'hello', new: 'hello world' })], 'tool_use') },
    { stage: 'build.generate', iteration: 2, call: 2, response: message('m5', [{ type: 'text', text: 'hello.txt now greets the world.' }]) },
  ],
};

/**
 * A workspace with `runs` runs of the demo pipeline recorded in it. Each run is made in a folder
 * of its own, all at once (one workspace runs one apply at a time), and its record moved into the
 * first: records merge by putting their folders together, as they do from several machines.
 */
export async function demoWorkspace(runs: number): Promise<string> {
  const dirs = Array.from({ length: runs }, () => workspaceWith('factory-view-', { 'factory.yaml': DEMO_YAML, 'cassette.json': JSON.stringify(DEMO_CASSETTE) }));
  // Spawned: the built CLI starts in a fraction of the time the engine takes to load in-process under vitest.
  const done = await Promise.all(dirs.map((dir) => cli(['apply', '--quiet'], dir)));
  done.forEach((r, i) => {
    if (r.code !== 0) throw new Error(`demo run ${i + 1} failed (exit ${r.code}): ${r.stderr}`);
  });
  const [first, ...others] = dirs as [string, ...string[]];
  for (const dir of others) {
    for (const id of readdirSync(path.join(dir, '.factory', 'runs'))) renameSync(path.join(dir, '.factory', 'runs', id), path.join(first, '.factory', 'runs', id));
  }
  return first;
}
