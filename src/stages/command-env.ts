import type { JsonValue } from '../config/pipeline.js';
import { envText } from '../engine/env-text.js';
import type { StageContext } from './types.js';

export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; message: string };

/**
 * The environment of a command: factory's own, then the pipeline's `env:`, then the stage's
 * `env:` rendered now (expressions see the finished stages), each value as text.
 */
export function commandEnv(ctx: StageContext, stageEnv: Record<string, unknown> | undefined): EnvResult {
  if (!ctx.pipelineEnv.ok) return { ok: false, message: ctx.pipelineEnv.message };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.processEnv)) if (v !== undefined) env[k] = v;
  Object.assign(env, ctx.pipelineEnv.value);
  for (const [name, raw] of Object.entries(stageEnv ?? {})) {
    if (raw === undefined) continue;
    const rendered = ctx.render(raw as JsonValue, ['env', name]);
    if (!rendered.ok) return { ok: false, message: `env ${name}: ${rendered.message}` };
    env[name] = envText(rendered.value);
  }
  return { ok: true, env };
}
