import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument, stringify } from 'yaml';
import type { FactoryConfig, Stage } from '../../src/config/generated/factory.js';
import { locate, YamlSource } from '../../src/config/load/load.js';
import type { JsonValue, Pipeline, Scope, StageNode } from '../../src/config/pipeline.js';
import { durationMs } from '../../src/config/units.js';
import type { EngineEvent, EventSink } from '../../src/records/events.js';

/** A fresh temporary workspace directory. */
export function tempWorkspace(prefix = 'factory-test-'): string {
  return realpathSync(mkdtempSync(path.join(tmpdir(), prefix)));
}

const WORK_KINDS = new Set(['command', 'plan', 'generate', 'review', 'scenario-validate']);

/**
 * The Pipeline the engine runs, built from a plain config object the way the config layer does
 * (needs, transitive upstream, order, default `if`, timeouts, retries), and written to
 * `dir/factory.yaml` so positions in messages point at real lines. Engine tests use it to stay
 * independent of config validation; the CLI tests go through the real loader.
 */
export function buildPipeline(dir: string, config: Record<string, unknown>, options: { concurrency?: number; params?: Record<string, JsonValue> } = {}): Pipeline {
  const full = { version: 1, ...config } as Record<string, unknown>;
  const text = stringify(full);
  const file = path.join(dir, 'factory.yaml');
  writeFileSync(file, text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const typed = full as unknown as FactoryConfig;
  const defaults = (typed.defaults ?? {}) as { timeout?: string; retries?: number };
  const params: Record<string, JsonValue> = {};
  for (const [k, p] of Object.entries((typed.params ?? {}) as Record<string, { default?: JsonValue }>)) if (p?.default !== undefined) params[k] = p.default;
  Object.assign(params, options.params);
  const scope = (stages: Record<string, Record<string, unknown>>, yamlPath: string[], prefix: string): Scope => {
    const nodes = new Map<string, StageNode>();
    for (const [id, def] of Object.entries(stages)) {
      const kind = def.kind as StageNode['kind'];
      const work = WORK_KINDS.has(kind);
      const timeout = (def.timeout as string | undefined) ?? (work ? defaults.timeout : undefined);
      const at = [...yamlPath, id];
      const node: StageNode = {
        id,
        path: prefix ? `${prefix}.${id}` : id,
        kind,
        needs: (def.needs as string[] | undefined) ?? [],
        upstream: new Set(),
        if: (def.if as string | undefined) ?? '${{ success() }}',
        continueOnError: def.continue_on_error === true,
        timeoutMs: timeout === undefined ? undefined : durationMs(timeout),
        retries: work ? ((def.retries as number | undefined) ?? defaults.retries ?? 2) : 0,
        def: def as unknown as Stage,
        source: { file: 'factory.yaml', dir, locate: (keyPath) => locate({ yaml: new YamlSource(text, { doc, lineCounter }) }, [...at, ...keyPath]) },
      };
      if (def.stages) node.body = scope(def.stages as Record<string, Record<string, unknown>>, [...at, 'stages'], node.path);
      nodes.set(id, node);
    }
    const order: StageNode[] = [];
    const visit = (n: StageNode) => {
      if (order.includes(n)) return;
      for (const need of n.needs) {
        const up = nodes.get(need)!;
        visit(up);
        (n.upstream as Set<string>).add(need);
        for (const u of up.upstream) (n.upstream as Set<string>).add(u);
      }
      order.push(n);
    };
    for (const n of nodes.values()) visit(n);
    return { path: prefix, stages: order, byId: nodes };
  };
  return {
    file: 'factory.yaml',
    absPath: file,
    dir,
    name: (typed.name as string | undefined) ?? path.basename(dir),
    config: typed,
    params,
    concurrency: options.concurrency ?? typed.concurrency ?? 4,
    root: scope(full.stages as Record<string, Record<string, unknown>>, ['stages'], ''),
  };
}

/** An EventSink that keeps every event, for assertions. */
export function collectEvents(): EventSink & { events: EngineEvent[]; of<T extends EngineEvent['type']>(type: T): Extract<EngineEvent, { type: T }>[] } {
  const events: EngineEvent[] = [];
  return {
    events,
    emit: (e) => events.push(e),
    of: <T extends EngineEvent['type']>(type: T) => events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type),
  };
}
