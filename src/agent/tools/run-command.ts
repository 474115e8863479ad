import { realpathSync } from 'node:fs';
import { runProcess } from '../process.js';
import { checkAllowed, tokenize } from '../../config/command-line.js';
import { fail, ok, type ToolSpec } from './types.js';

export const runCommandTool: ToolSpec = {
  name: 'run_command',
  description:
    'Run one allow-listed command in the workspace and get its exit code, stdout and stderr (capped). It runs without a shell: no pipes, redirections, globs, variables or "&&"; quote arguments with \' or ".',
  input_schema: {
    type: 'object',
    properties: { command: { type: 'string', description: 'The command line, e.g. "npm test".' } },
    required: ['command'],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const command = input.command ?? '';
    const parsed = tokenize(command);
    if (!parsed.ok) return fail(parsed.message);
    const allowed = checkAllowed(parsed.argv, ctx.commands.allow);
    if (!allowed.ok) return fail(allowed.message);
    let cwd: string;
    try {
      cwd = realpathSync.native(ctx.workspace);
    } catch {
      return fail('the workspace folder does not exist');
    }
    const [file, ...args] = parsed.argv as [string, ...string[]];
    const span = ctx.commands.startProcess?.(file, 'run_command');
    const result = await runProcess({
      file,
      args,
      cwd,
      env: span ? { ...ctx.commands.env, ...span.env } : ctx.commands.env,
      signal: ctx.signal,
      timeoutMs: ctx.commands.timeoutMs,
      maxOutputBytes: ctx.commands.maxOutputBytes,
      ...(ctx.commands.sandbox ? { sandbox: ctx.commands.sandbox } : {}),
    });
    span?.end(result.started ? { exitCode: result.exitCode, signal: result.signal ?? undefined } : { error: result.code ?? 'spawn' });
    if (!result.started) return fail(result.message);
    const status = result.timedOut
      ? `timed out after ${Math.round(ctx.commands.timeoutMs / 1000)}s and was killed`
      : result.aborted
        ? 'cancelled'
        : result.exitCode === null
          ? `killed by ${result.signal ?? 'a signal'}`
          : `exit code ${result.exitCode}`;
    const text = `${status}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
    // A non-zero exit is an answer (failing tests are feedback), not a failed tool call.
    return result.timedOut || result.aborted ? fail(text) : ok(text);
  },
};
