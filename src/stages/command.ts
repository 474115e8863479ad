import { statSync } from 'node:fs';
import path from 'node:path';
import type { CommandStage } from '../config/generated/factory.js';
import type { JsonValue } from '../config/pipeline.js';
import { CappedCapture } from '../process/capture.js';
import { commandEnv } from './command-env.js';
import { terminateGroup, type GroupKiller } from '../process/process-group.js';
import { spawnCommand } from '../process/spawn.js';
import type { StageContext, StageExecutor, StageResult } from '../engine/executor.js';

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
    const cwd = resolveCwd(ctx, def.cwd);
    if (!cwd.ok) return cwd.result;
    const env = commandEnv(ctx, def.env);
    if (!env.ok) return fail('error', 'expression', env.message);
    const [file, args] = typeof def.run === 'string' ? ['/bin/sh', ['-c', def.run]] : [def.run[0], def.run.slice(1)];
    if (ctx.signal.aborted) return fail('error', 'cancelled', 'not started');

    const json = def.parse === 'json';
    const stdout = new CappedCapture(undefined, { keepFull: json });
    const stderr = new CappedCapture();
    const { child } = await spawnCommand({ file, args, cwd: cwd.value, env: env.env });
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
    ctx.signal.removeEventListener('abort', onAbort);
    killer?.done();

    if (result.exitCode === undefined && result.signal === undefined) {
      return fail('error', 'spawn', spawnMessage(file, typeof def.run === 'string', result.code, result.originalMessage));
    }
    const outputs: Record<string, JsonValue> = {
      exit_code: result.exitCode ?? null,
      stdout: stdout.text(ctx.logFile('stdout')),
      stderr: stderr.text(ctx.logFile('stderr')),
    };
    if (json) outputs.json = null;
    const successCodes: readonly number[] = def.success_codes ?? [0];
    if (result.exitCode === undefined || !successCodes.includes(result.exitCode)) {
      return { status: 'failed', reason: 'exit_code', message: exitMessage(result.exitCode, result.signal, stderr.text()), outputs };
    }
    if (json) {
      const parsed = parseJson(stdout);
      if (!parsed.ok) return { status: 'failed', reason: 'parse', message: parsed.message, outputs };
      outputs.json = parsed.value;
    }
    return { status: 'succeeded', outputs };
  },
};

function fail(status: 'error' | 'failed', reason: StageResult['reason'], message: string): StageResult {
  return { status, reason, message, outputs: {} };
}

function resolveCwd(ctx: StageContext, cwd: string | undefined): { ok: true; value: string } | { ok: false; result: StageResult } {
  if (cwd === undefined) return { ok: true, value: ctx.pipeline.dir };
  const rendered = ctx.render(cwd, ['cwd']);
  if (!rendered.ok) return { ok: false, result: fail('error', 'expression', `cwd: ${rendered.message}`) };
  const text = typeof rendered.value === 'string' ? rendered.value : JSON.stringify(rendered.value);
  const abs = path.resolve(ctx.pipeline.dir, text);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    return { ok: false, result: fail('error', 'spawn', `cwd "${text}" does not exist (${abs})`) };
  }
  if (!isDir) return { ok: false, result: fail('error', 'spawn', `cwd "${text}" is not a directory (${abs})`) };
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
