import { describe, it, expect } from 'vitest';
import {
  checkExpression,
  checkTemplate,
  parseExpression,
  referencedStages,
  type Expr,
  type ExprError,
  type StaticEnv,
} from '../../src/expr/index.js';

function env(overrides: Partial<StaticEnv> = {}): StaticEnv {
  return {
    contexts: new Set(['params', 'stages', 'env', 'run', 'budget']),
    params: new Set(['spec', 'max_retries']),
    stages: { visible: new Set(['plan', 'review']), all: new Set(['plan', 'review', 'validate', 'deploy']) },
    statusFunctions: false,
    describe: (id) => `stage "${id}"`,
    ...overrides,
  };
}

const loopEnv = env({
  contexts: new Set(['params', 'stages', 'env', 'run', 'budget', 'loop']),
  stages: {
    visible: new Set(['plan', 'generate']),
    all: new Set(['plan', 'generate', 'test', 'validate']),
    loopBody: new Set(['generate', 'test', 'validate']),
  },
});

function ast(src: string): Expr {
  const r = parseExpression(src);
  if (!r.ok) throw new Error(r.error.message);
  return r.ast;
}

function check(src: string, e: StaticEnv = env()): ExprError[] {
  return checkExpression(ast(src), e);
}

/** The one error of `src`, with the text it underlines. */
function only(src: string, e: StaticEnv = env()): ExprError & { underlined: string } {
  const errors = check(src, e);
  expect(errors).toHaveLength(1);
  const error = errors[0] as ExprError;
  return { ...error, underlined: src.slice(error.offset, error.offset + error.length) };
}

describe('valid expressions', () => {
  it.each([
    'params.spec',
    'PARAMS.Spec',
    "params['max_retries']",
    'params',
    'stages.plan.outputs.text',
    'stages.review.status',
    'stages.plan',
    'stages.*.status',
    'stages[*].outputs.x',
    'stages[params.spec].outputs',
    "stages['plan'].outputs",
    'env.ANYTHING',
    'run.id',
    'run.dir',
    'budget.spent_usd',
    'budget.remaining_tokens',
    "contains(stages.plan.outputs.text, 'x') && !startsWith(params.spec, 'a')",
    "format('{0}', toJSON(fromJSON('[]')))",
    'LENGTH(params.spec) > 0',
    "join(stages.*.status, ', ')",
  ])('%s', (src) => {
    expect(check(src)).toEqual([]);
  });

  it('status functions where allowed', () => {
    expect(check('success() && !failure() || always() || cancelled()', env({ statusFunctions: true }))).toEqual([]);
  });
});

describe('contexts', () => {
  it('unknown context with did-you-mean', () => {
    const e = only('1 == parms.spec');
    expect(e.message).toBe('unknown context "parms" (did you mean "params"?)');
    expect(e.underlined).toBe('parms');
    expect(e.hint).toBe('available here: params, stages, env, run, budget');
  });

  it('unknown context without a plausible suggestion', () => {
    expect(only('github.sha').message).toBe('unknown context "github"');
  });

  it('a known context not available here', () => {
    const e = only('stages.plan', env({ contexts: new Set(['params', 'env']) }));
    expect(e.message).toBe('context "stages" is not available here');
    expect(e.hint).toBe('available here: params, env');
  });

  it('loop outside a loop says where it exists', () => {
    expect(only('loop.iteration').message).toContain('it exists only inside a loop body and its until');
  });

  it('a function named without parentheses', () => {
    const e = only('always');
    expect(e.message).toBe('"always" is a function; call it as always()');
  });
});

describe('params', () => {
  it('undeclared param with did-you-mean, underlining the name', () => {
    const e = only('params.spce');
    expect(e.message).toBe('param "spce" is not declared (did you mean "spec"?)');
    expect(e.underlined).toBe('spce');
    expect(e.hint).toBe('declared params: spec, max_retries');
  });

  it('undeclared param read by a literal index', () => {
    expect(only("params['nope']").underlined).toBe("'nope'");
  });

  it('says how to declare when there are no params', () => {
    expect(only('params.x', env({ params: new Set() })).hint).toBe('declare it under params:');
  });
});

describe('stages', () => {
  it('a stage that does not exist, with did-you-mean', () => {
    const e = only('stages.revew.outputs.approved');
    expect(e.message).toBe('stage "revew" does not exist (did you mean "review"?)');
    expect(e.underlined).toBe('revew');
    expect(e.hint).toBe('stages readable here: plan, review');
  });

  it('a stage that exists but is not upstream says to add it to needs', () => {
    const e = only('stages.validate.outputs.passed');
    expect(e.message).toBe('stage "validate" is not upstream here; add "validate" to needs to read it');
    expect(e.hint).toBe('add "validate" to needs');
    expect(e.underlined).toBe('validate');
  });

  it('uses describe() for the stage', () => {
    const e = only('stages.deploy', env({ describe: (id) => `stage "top.${id}"` }));
    expect(e.message).toContain('stage "top.deploy" is not upstream');
  });

  it('only outputs and status follow a stage id', () => {
    const e = only('stages.plan.output.text');
    expect(e.message).toBe('stages.plan has no "output" (did you mean "outputs"?)');
    expect(e.underlined).toBe('output');
    expect(e.hint).toBe('read stages.plan.outputs.<name> or stages.plan.status');
  });

  it('checks stage names inside dynamic indexes, and allows the index itself', () => {
    const e = only('stages[stages.nope.outputs.id].status');
    expect(e.underlined).toBe('nope');
  });

  it('reports every problem of an expression', () => {
    const errors = check("stages.nope.status == params.nah || contains(stages.validate.status, 'x')");
    expect(errors.map((e) => e.message)).toEqual([
      'stage "nope" does not exist',
      'param "nah" is not declared',
      'stage "validate" is not upstream here; add "validate" to needs to read it',
    ]);
  });
});

describe('loop', () => {
  it('allows loop.iteration and loop.previous.<body stage>', () => {
    expect(check('loop.iteration > 1 && loop.previous.validate.outputs.feedback', loopEnv)).toEqual([]);
    expect(check('loop.previous.test.status', loopEnv)).toEqual([]);
    expect(check('loop.previous', loopEnv)).toEqual([]);
  });

  it('refuses loop.previous of a stage outside the body', () => {
    const e = only('loop.previous.plan.outputs.text', loopEnv);
    expect(e.message).toBe('stage "plan" is not in this loop\'s body');
    expect(e.hint).toBe("loop.previous reads the loop's own stages: generate, test, validate");
    expect(e.underlined).toBe('plan');
  });

  it('suggests the body stage meant', () => {
    expect(only('loop.previous.validat.outputs', loopEnv).message).toContain('(did you mean "validate"?)');
  });

  it('refuses other loop fields', () => {
    const e = only('loop.iterations', loopEnv);
    expect(e.message).toBe('loop has no "iterations" (did you mean "iteration"?)');
    expect(e.hint).toBe('loop provides: iteration, previous');
  });

  it('checks the field after loop.previous.<id>', () => {
    expect(only('loop.previous.test.stdout', loopEnv).message).toBe('loop.previous.test has no "stdout"');
  });

  it('refuses loop when the context is allowed but there is no loop body', () => {
    const e = only('loop.iteration', env({ contexts: new Set(['loop']) }));
    expect(e.message).toBe('context "loop" is only available inside a loop body and its until');
  });
});

describe('run and budget', () => {
  it('run has only id and dir', () => {
    const e = only('run.path');
    expect(e.message).toBe('run has no "path"');
    expect(e.hint).toBe('run provides: id, dir');
  });

  it('budget has only its four fields', () => {
    const e = only('budget.spent_tokns');
    expect(e.message).toBe('budget has no "spent_tokns" (did you mean "spent_tokens"?)');
    expect(e.underlined).toBe('spent_tokns');
  });
});

describe('functions', () => {
  it('unknown function with did-you-mean', () => {
    const e = only("startswith('a', 'b') && containz('a', 'b')");
    expect(e.message).toBe('unknown function "containz" (did you mean "contains"?)');
    expect(e.underlined).toBe('containz');
  });

  it('wrong arity', () => {
    const e = only("contains('a')");
    expect(e.message).toBe('contains() takes 2 arguments, got 1');
    expect(e.underlined).toBe('contains');
    expect(only('toJSON(1, 2)').message).toBe('toJSON() takes 1 argument, got 2');
  });

  it('status functions only in if/until', () => {
    const e = only('stages.plan.status && success()');
    expect(e.message).toBe('success() can only be used in "if" and "until"');
    expect(e.underlined).toBe('success');
  });

  it('checks the arguments of calls', () => {
    expect(only('toJSON(params.nope)').underlined).toBe('nope');
  });
});

describe('checkTemplate', () => {
  it('places errors in the whole string', () => {
    const text = 'Plan: ${{ stages.plan.outputs.text }} spec: ${{ params.spce }}';
    const errors = checkTemplate(text, env());
    expect(errors).toHaveLength(1);
    const e = errors[0] as ExprError;
    expect(text.slice(e.offset, e.offset + e.length)).toBe('spce');
  });

  it('returns the parse error of a bad template', () => {
    expect(checkTemplate('x ${{ a ==  }}', env())[0]?.message).toContain('unexpected end');
    expect(checkTemplate('plain', env())).toEqual([]);
  });
});

describe('referencedStages', () => {
  it('collects stages.X and loop.previous.X separately, once each, in order', () => {
    const refs = referencedStages(
      ast(
        "stages.plan.outputs.text && loop.previous.validate.outputs.x || stages['review'].status == stages.plan.status && loop.previous.test",
      ),
    );
    expect(refs).toEqual({ stages: ['plan', 'review'], previous: ['validate', 'test'] });
  });

  it('finds references inside calls and dynamic indexes', () => {
    expect(referencedStages(ast('contains(stages[stages.a.outputs.k].status, toJSON(stages.b))'))).toEqual({
      stages: ['a', 'b'],
      previous: [],
    });
  });

  it('skips wildcards and dynamic ids, and lower-cases ids', () => {
    expect(referencedStages(ast('stages.*.status && stages[params.x] && STAGES.Plan'))).toEqual({
      stages: ['plan'],
      previous: [],
    });
  });

  it('ignores loop fields other than previous', () => {
    expect(referencedStages(ast('loop.iteration && params.stages && fromJSON(x).stages.y'))).toEqual({
      stages: [],
      previous: [],
    });
  });
});
