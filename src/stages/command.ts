import { statSync } from 'node:fs';
import path from 'node:path';
import type { CommandStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { CappedCapture } from '../process/capture.js';
import { commandEnv } from './command-env.js';
import { terminateGroup, type GroupKiller } from '../process/process-group.js';
import { spawnCommand } from '../process/spawn.js';
import { confinementNote, SANDBOX_REFUSED } from '../process/sandbox.js';
import { sandboxPolicy } from './sandbox-policy.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';
import { expressionReason } from '../engine/expressions.js';
import { spanEnvAdd } from '../engine/process-spans.js';
import type { Reason } from '../records/reasons.js';

/** stdout read whole for `parse: json` is refused past this size. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

/**
 * `kind: command`. A string `run` goes to `sh -c`, an array runs without a shell. The shell
 * running and exiting non-zero (127 included) is `failed`; a program that cannot be started
 * (missing, not executable, missing cwd) is `error` with reason `spawn`.
 */
export const commandExecutor: StageExecutor = {
  holdsSlot: true,
  async run(ctx) {
    const def = ctx.node.def as CommandStage;
    const [file, args] = typeof def.run === 'string' ? ['/bin/sh', ['-c', def.run]] : [def.run[0], def.run.slice(1)];
    const cwd = resolveCwd(ctx, def.cwd, file);
    if (!cwd.ok) return cwd.result;
    const env = commandEnv(ctx, def.env);
    if (!env.ok) return fail('error', expressionReason(env), env.message);
    if (ctx.signal.aborted) return fail('error', { kind: 'cancelled' }, 'not started');

    const json = def.parse === 'json';
    const stdout = new CappedCapture(undefined, { keepFull: json });
    const stderr = new CappedCapture();
    const sandbox = sandboxPolicy(ctx, ctx.pipeline.dir);
    const span = ctx.startProcess?.(file, 'command');
    // The span's TRACEPARENT goes beside the shared env, not into a copy of it: see SpawnRequest.envAdd.
    const envAdd = spanEnvAdd(span);
    const { child } = await spawnCommand({ file, args, cwd: cwd.value, env: env.env, ...(envAdd ? { envAdd } : {}), ...(sandbox ? { sandbox } : {}) });
    child.stdout?.on('data', (chunk: Uint8Array) => {
      stdout.add(chunk);
      ctx.output('stdout', chunk);
    });
    child.stderr?.on('data', (chunk: Uint8Array) => {
      stderr.add(chunk);
      ctx.output('stderr', chunk);
    });
    let killer: GroupKiller | undefined;
    const onAbort = () => {
      if (child.pid !== undefined) killer = terminateGroup(child.pid);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal can abort while the command spawns; TypeScript keeps its narrowing from before
    if (ctx.signal.aborted) onAbort();
    const result = await child;
    span?.end({ exitCode: result.exitCode, signal: result.signal, error: result.code });
    ctx.signal.removeEventListener('abort', onAbort);
    killer?.done();

    if (result.code === SANDBOX_REFUSED) return fail('error', { kind: 'sandbox' }, result.originalMessage ?? 'the sandbox could not start');
    if (result.exitCode === undefined && result.signal === undefined) {
      return fail('error', { kind: 'spawn', program: file }, spawnMessage(file, typeof def.run === 'string', result.code, result.originalMessage));
    }
    const outputs: Record<string, JsonValue> = {
      exit_code: result.exitCode ?? null,
      stdout: stdout.text(ctx.logFile('stdout')),
      stderr: stderr.text(ctx.logFile('stderr')),
    };
    if (json) outputs.json = null;
    const successCodes: readonly number[] = def.success_codes ?? [0];
    if (result.exitCode === undefined || !successCodes.includes(result.exitCode)) {
      const message = exitMessage(result.exitCode, result.signal, stderr.text());
      return { status: 'failed', reason: { kind: 'exit_code', code: result.exitCode ?? null, ...(result.signal ? { signal: result.signal } : {}) }, message: sandbox ? `${message} (${confinementNote(sandbox)})` : message, outputs };
    }
    if (json) {
      const parsed = parseJson(stdout);
      if (!parsed.ok) return { status: 'failed', reason: { kind: 'parse' }, message: parsed.message, outputs };
      outputs.json = parsed.value;
    }
    return { status: 'succeeded', outputs };
  },
};

function fail(status: 'error' | 'failed', reason: Reason, message: string): StageResult {
  return { status, reason, message, outputs: {} };
}

function resolveCwd(ctx: StageContext, cwd: string | undefined, program: string): { ok: true; value: string } | { ok: false; result: StageResult } {
  if (cwd === undefined) return { ok: true, value: ctx.pipeline.dir };
  const rendered = ctx.render(cwd, ['cwd']);
  if (!rendered.ok) return { ok: false, result: fail('error', expressionReason(rendered), `cwd: ${rendered.message}`) };
  const text = typeof rendered.value === 'string' ? rendered.value : JSON.stringify(rendered.value);
  const abs = path.resolve(ctx.pipeline.dir, text);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    return { ok: false, result: fail('error', { kind: 'spawn', program }, `cwd "${text}" does not exist (${abs})`) };
  }
  if (!isDir) return { ok: false, result: fail('error', { kind: 'spawn', program }, `cwd "${text}" is not a directory (${abs})`) };
  return { ok: true, value: abs };
}

function spawnMessage(file: string, shell: boolean, code: string | undefined, original: string | undefined): string {
  const what = shell ? 'the shell /bin/sh' : `"${file}"`;
  switch (code) {
    case 'ENOENT':
      return `could not start ${what}: no such program (check the name, or give a path relative to the cwd)`;
    case 'EACCES':
      return `could not start ${what}: it is not executable (chmod +x it, or run it through an interpreter)`;
    case undefined:
    default:
      return `could not start ${what}: ${original ?? code ?? 'unknown error'}`;
  }
}

function exitMessage(exitCode: number | undefined, signal: string | undefined, stderr: string): string {
  let text = exitCode === undefined ? `killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`;
  if (exitCode === 127) text += ' (command not found)';
  if (exitCode === 126) text += ' (not executable)';
  const last = stderr.trimEnd().split('\n').at(-1)?.trim();
  if (last) text += `: ${last.length > 200 ? `${last.slice(0, 200)}…` : last}`;
  return text;
}

function parseJson(stdout: CappedCapture): { ok: true; value: JsonValue } | { ok: false; message: string } {
  if (stdout.size > MAX_JSON_BYTES) return { ok: false, message: `parse: json: stdout is ${stdout.size} bytes, over the ${MAX_JSON_BYTES}-byte limit` };
  const text = stdout.fullText();
  if (text.trim() === '') return { ok: false, message: 'parse: json: stdout is empty, expected a JSON value' };
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { ok: false, message: `parse: json: stdout is not valid JSON (${(err as Error).message})` };
  }
}
