import { nearestModel, priceOf, pricingTable } from '../pricing.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import type { Pipeline, Scope } from '../pipeline.js';
import { isAgentStage, stageModel } from '../stage-model.js';

/**
 * An external agent (`generate` with `agent:`) under a `cost_usd` budget: what it spends is
 * charged as it reports it, and tokens it reports without a cost are priced by the stage's model
 * (its `model:`, else `defaults.model`). Without one (or with a model the pricing table does not price) such tokens would
 * cost $0 and the budget would never stop it, so `validate` refuses it, at the stage, with the
 * fix. Checked over the whole run, templates called with `uses:` included, since the run's
 * and the enclosing stages' budgets hold over them.
 */
export function checkAgentCost(pipeline: Pipeline): Diagnostic[] {
  const out: Diagnostic[] = [];
  const pricing = pricingTable(pipeline.config.pricing);
  const runCost = (pipeline.config.budget as { cost_usd?: unknown } | undefined)?.cost_usd;
  const visit = (scope: Scope, holder: string | undefined, owners: readonly Pipeline[]) => {
    for (const node of scope.stages) {
      const own = (node.def as { budget?: { cost_usd?: unknown } }).budget?.cost_usd;
      const under = typeof own === 'number' ? `stage "${node.path}"` : holder;
      if (under && isAgentStage(node)) {
        const model = stageModel(owners, node);
        if (model === undefined) {
          out.push(diagnostic(node.source.file, node.source.locate(['agent'], 'key'), 'agent-cost-unpriced',
            `stage "${node.path}" hands its work to an external agent under the cost_usd budget of ${under}, but no \`model\` prices the tokens the agent reports: they would cost $0 and the budget would never stop it`,
            'add `model:` to the stage (the model the agent runs, e.g. claude-sonnet-5-5): tokens the agent reports without a cost are priced by it, and a cost it reports itself (as `claude -p --output-format json` does) is charged as reported'));
        } else if (!priceOf(model, pricing)) {
          const near = nearestModel(model, pricing);
          out.push(diagnostic(node.source.file, node.source.locate(['model']), 'agent-cost-unpriced',
            `the model "${model}" of stage "${node.path}" has no price, and the stage's external agent is under the cost_usd budget of ${under}`,
            `add \`pricing: { ${model}: { input: …, output: … } }\` (USD per million tokens) to ${pipeline.file}${near ? `, or did you mean "${near}"?` : ''}`));
        }
      }
      if (node.body) visit(node.body, under, node.template ? [...owners, node.template.pipeline] : owners);
    }
  };
  visit(pipeline.root, typeof runCost === 'number' ? 'the run' : undefined, [pipeline]);
  return out;
}
