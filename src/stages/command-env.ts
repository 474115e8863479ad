import type { JsonValue } from '../config/pipeline.js';
import { envText } from '../engine/env-text.js';
import type { StageContext } from '../engine/executor.js';

export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; message: string };

/**
 * The environment of a command: factory's own, then the pipeline's `env:`, then the stage's
 * `env:` rendered now (expressions see the finished stages), each value as text.
 */
export function commandEnv(ctx: StageContext, stageEnv: Record<string, unknown> | undefined): EnvResult {
  if (!ctx.pipelineEnv.ok) return { ok: false, message: ctx.pipelineEnv.message };
  const base = baseEnv(ctx.processEnv, ctx.pipelineEnv.value);
  if (stageEnv === undefined) return { ok: true, env: base };
  let env: Record<string, string> | undefined;
  for (const name in stageEnv) {
    const raw = stageEnv[name];
    if (raw === undefined) continue;
    const rendered = ctx.render(raw as JsonValue, ['env', name]);
    if (!rendered.ok) return { ok: false, message: `env ${name}: ${rendered.message}` };
    env ??= { ...base };
    env[name] = envText(rendered.value);
  }
  return { ok: true, env: env ?? base };
}

/**
 * factory's env with the pipeline's over it, built once per run (per pair of objects: the
 * pipeline's env is rendered anew for each run) rather than once per stage, and shared by every
 * stage without an `env:` of its own — which also lets the spawn helper keep it instead of
 * receiving it with each request. Frozen, since it is shared.
 */
const bases = new WeakMap<object, WeakMap<object, Readonly<Record<string, string>>>>();

function baseEnv(processEnv: Readonly<NodeJS.ProcessEnv>, pipelineEnv: Readonly<Record<string, string>>): Record<string, string> {
  let byPipeline = bases.get(processEnv);
  if (!byPipeline) bases.set(processEnv, (byPipeline = new WeakMap()));
  let base = byPipeline.get(pipelineEnv);
  if (!base) {
    const env: Record<string, string> = {};
    for (const k in processEnv) {
      const v = processEnv[k];
      if (v !== undefined) env[k] = v;
    }
    Object.assign(env, pipelineEnv);
    base = Object.freeze(env);
    byPipeline.set(pipelineEnv, base);
  }
  return base;
}
