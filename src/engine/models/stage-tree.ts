import type { Pipeline, Scope, StageNode } from '../../config/pipeline.js';
import { renderValue } from '../../expr/index.js';
import { stageOfInstance } from '../../config/fanout.js';

/** Kinds that call a model through a provider (a generate with `agent:` does not): config's model kinds. */
export { LLM_KINDS as MODEL_KINDS } from '../../config/stage-model.js';

/** Walking the stage tree: every stage with its ancestors, a stage by its dotted path, the scenario globs. */

export function walk(scope: Scope, visit: (node: StageNode, ancestors: StageNode[]) => void, ancestors: StageNode[] = []): void {
  for (const node of scope.stages) {
    visit(node, ancestors);
    if (node.body) walk(node.body, visit, [...ancestors, node]);
  }
}

export function ancestorsOf(root: Scope, dotted: string): StageNode[] {
  const out: StageNode[] = [];
  let scope: Scope | undefined = root;
  const ids = dotted.split('.');
  for (const id of ids.slice(0, -1)) {
    const node: StageNode | undefined = scope?.byId.get(stageOfInstance(id));
    if (!node) break;
    out.push(node);
    scope = node.body;
  }
  return out;
}

/** Every scenario glob of the pipeline (params rendered), the holdout hidden from every model stage. */
export function scenarioGlobs(pipeline: Pipeline): string[] {
  const out: string[] = [];
  walk(pipeline.root, (node) => {
    if (node.kind !== 'scenario-validate') return;
    const raw = (node.def as { scenarios?: string | string[] }).scenarios;
    for (const pattern of typeof raw === 'string' ? [raw] : (raw ?? [])) {
      if (!pattern.includes('${{')) {
        out.push(pattern);
        continue;
      }
      const r = renderValue(pattern, { contexts: { params: pipeline.params } });
      if (r.ok && typeof r.value === 'string') out.push(r.value);
    }
  });
  return [...new Set(out)];
}

export function findNode(scope: Scope, dotted: string): StageNode | undefined {
  let current: Scope | undefined = scope;
  let node: StageNode | undefined;
  for (const id of dotted.split('.')) {
    node = current?.byId.get(stageOfInstance(id));
    if (!node) return undefined;
    current = node.body;
  }
  return node;
}
