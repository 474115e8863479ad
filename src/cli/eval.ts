import type { Command } from 'commander';
import { evaluate, parseExpression, type ExprError, type Value } from '../expr/index.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';

/** `factory eval 'EXPR' --context JSON`: try a condition before committing it. */
export function registerEval(program: Command, io: CliIO): Command {
  return program
    .command('eval')
    .description('evaluate one expression (with or without its ${{ }}) and print the result as JSON')
    .argument('<expression>', "the expression, e.g. \"stages.test.outputs.exit_code == 0 && params.env != 'prod'\"")
    .option('--context <json>', 'contexts as a JSON object keyed by name: {"params": {...}, "stages": {...}}', '{}')
    .action((source: string, opts: { context: string }) => {
      let contexts: Record<string, Value>;
      try {
        const parsed: unknown = JSON.parse(opts.context);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        contexts = parsed as Record<string, Value>;
      } catch (err) {
        io.stderr.write(`error: --context must be a JSON object keyed by context name (${(err as Error).message})\n`);
        throw new ExitError(EXIT.usage);
      }
      const ast = parseExpression(unwrap(source));
      if (!ast.ok) {
        const hint = unwrap(source).includes('${{') ? 'eval takes one expression, e.g. \'1 == 1\' or \'${{ 1 == 1 }}\'; text around ${{ }} is not part of it' : ast.error.hint;
        fail(io, source, { ...ast.error, ...(hint ? { hint } : {}) });
      }
      const status = {
        success: () => truthyFlag(contexts, 'success', true),
        failure: () => truthyFlag(contexts, 'failure', false),
        cancelled: () => truthyFlag(contexts, 'cancelled', false),
      };
      const result = evaluate(ast.ast, { contexts, status });
      if (!result.ok) fail(io, source, result.error);
      io.stdout.write(`${JSON.stringify(result.value, null, 2)}\n`);
    });
}

/**
 * The expression inside `${{ }}` when the whole argument is wrapped, as written in factory.yaml;
 * the wrapper becomes spaces so that error columns still point into what the user typed.
 */
export function unwrap(source: string): string {
  const m = /^(\s*)\$\{\{([\s\S]*)\}\}(\s*)$/.exec(source);
  if (!m || m[2]!.includes('}}')) return source;
  return `${m[1]}   ${m[2]}  ${m[3]}`;
}

/** Status functions read `{"status": {"success": false}}` from the context, so they can be tried too. */
function truthyFlag(contexts: Record<string, Value>, name: string, fallback: boolean): boolean {
  const status = contexts.status;
  if (status && typeof status === 'object' && !Array.isArray(status) && typeof status[name] === 'boolean') return status[name];
  return fallback;
}

function fail(io: CliIO, source: string, error: ExprError): never {
  io.stderr.write(`<expression>:1:${error.offset + 1} error  ${error.message}\n    1 | ${source}\n      | ${' '.repeat(error.offset)}${'^'.repeat(Math.max(1, error.length))}\n`);
  if (error.hint) io.stderr.write(`      = hint: ${error.hint}\n`);
  throw new ExitError(EXIT.usage);
}
