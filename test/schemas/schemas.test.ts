import { readFileSync } from 'node:fs';
// The named export: under NodeNext the default import of this CommonJS module types as its namespace.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type SchemaObject = { [key: string]: Json };

function loadSchema(name: string): SchemaObject {
  const url = new URL(`../../schemas/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as SchemaObject;
}

function compile(schema: SchemaObject): ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true });
  return ajv.compile(schema);
}

const factorySchema = loadSchema('factory.schema.json');
const scenarioSchema = loadSchema('scenario.schema.json');
const cassetteSchema = loadSchema('cassette.schema.json');
const validateFactory = compile(factorySchema);
const validateScenario = compile(scenarioSchema);
const validateCassette = compile(cassetteSchema);

/** The errors of a validation, reduced to what the tests compare. */
function errorsOf(validate: ValidateFunction, data: unknown): Pick<ErrorObject, 'keyword' | 'instancePath' | 'params'>[] {
  validate(data);
  return (validate.errors ?? []).map(({ keyword, instancePath, params }) => ({ keyword, instancePath, params }));
}

/** The complete example of docs/configuration.md. */
const specExample = `
# yaml-language-server: $schema=<path to schemas/factory.schema.json>
version: 1
name: roman-numerals
description: Turn SPEC.md into a tested module, looping until held-out scenarios pass.

params:
  spec: { type: string, default: SPEC.md, description: The specification to implement }

defaults:
  provider: anthropic          # anthropic | replay
  model: claude-sonnet-5-5
  max_tokens: 8192
  timeout: 10m
  retries: 2

budget:                        # for the whole run
  tokens: 2M                   # input + output + cache tokens; integer or k/M suffix
  cost_usd: 20
  wall_time: 45m

concurrency: 4

stages:
  plan:
    kind: plan
    prompt: Write a short implementation plan for the spec below.
    context: ["\${{ params.spec }}"]

  build:
    kind: loop
    needs: [plan]
    max_iterations: 4
    until: \${{ stages.validate.outputs.passed && stages.review.outputs.approved }}
    stages:
      generate:
        kind: generate
        prompt: |
          Implement this plan: \${{ stages.plan.outputs.text }}
          Feedback from the previous attempt: \${{ loop.previous.validate.outputs.feedback }}
        context: ["\${{ params.spec }}"]
        commands: ["npm test"]
        max_turns: 30
      test:
        kind: command
        needs: [generate]
        run: npm test
      review:
        kind: review
        needs: [generate]
        rubric: Correct, idiomatic, matches the spec, no dead code.
      validate:
        kind: scenario-validate
        needs: [test]
        if: \${{ always() }}
        scenarios: scenarios/*.yaml
        threshold: 1.0
`;

/** The scenario file of docs/configuration.md. */
const specScenario = `
name: converts 1994
description: The classic subtractive case.   # shown in feedback at level names
weight: 1
setup: [npm run build]
steps:
  - run: node cli.js 1994
    expect: { exit_code: 0, stdout_contains: MCMXCIV }
  - run: node cli.js -5
    expect: { exit_code: 2, stderr_matches: "positive" }
judge:
  rubric: The error message tells the user what a valid input is.
`;

const minimal = { version: 1, stages: { hello: { kind: 'command', run: 'echo hello' } } };

/** A config whose only stage is the given one. */
function withStage(stage: Record<string, unknown>): Record<string, unknown> {
  return { version: 1, stages: { only: stage } };
}

describe('schemas compile', () => {
  it('compiles all three schemas with ajv 2020 in strict mode with discriminator', () => {
    for (const schema of [factorySchema, scenarioSchema, cassetteSchema]) {
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(() => compile(schema)).not.toThrow();
    }
  });
});

describe('factory.schema.json accepts', () => {
  it('the complete example of docs/configuration.md', () => {
    expect(errorsOf(validateFactory, parse(specExample))).toEqual([]);
  });

  it('a minimal config', () => {
    expect(errorsOf(validateFactory, minimal)).toEqual([]);
  });

  it('every top-level key and every stage kind with its keys', () => {
    const config = {
      version: 1,
      name: 'all',
      description: 'every key',
      params: {
        level: { type: 'integer', default: 2, description: 'how hard', enum: [1, 2, 3] },
        dry_run: { type: 'boolean', default: false },
      },
      env: { CI: true, RETRIES: 3, EMPTY: null, LIST: [1, 2], MAP: { a: 'b' }, NAME: 'x' },
      defaults: { provider: 'replay', model: 'm', max_tokens: 100, timeout: '1h30m', retries: 0, temperature: 0.2 },
      providers: {
        anthropic: { base_url: 'http://127.0.0.1:8080', api_key_env: 'MY_KEY' },
        replay: { cassette: 'cassette.json', strict: true },
      },
      pricing: { 'claude-x': { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 } },
      budget: { tokens: 500000, cost_usd: 1.5, wall_time: '250ms', warn_at: 0.5 },
      concurrency: 1,
      watch: { paths: ['src/**'], ignore: ['dist/**'], debounce: '1.5s' },
      outputs: { passed: '${{ stages.gate.outputs.approved }}' },
      stages: {
        cmd: {
          kind: 'command',
          run: ['node', '-e', '1'],
          cwd: 'sub',
          env: { A: '1' },
          success_codes: [0, 1],
          parse: 'json',
          inputs: [],
          timeout: '5m',
          retries: 1,
          description: 'argv form',
          continue_on_error: true,
          budget: {
            tokens: '1.5M',
            cost_usd: 2,
            wall_time: '10m',
            warn_at: 0.9,
            on_exhausted: 'ask',
            extend: { tokens: '500k', cost_usd: 1, wall_time: '5m' },
            timeout: '1h',
          },
        },
        plan: { kind: 'plan', prompt_file: 'prompts/plan.md', write: 'PLAN.md', system: 's', temperature: 0 },
        gen: {
          kind: 'generate',
          needs: ['plan'],
          prompt: 'go',
          workspace: '.',
          tools: ['read_file', 'write_file', 'edit_file', 'list_files', 'search', 'run_command'],
          commands: ['npm test', 'npm run *'],
          writes: ['src/**'],
          deny: ['secrets/**'],
          max_turns: 10,
          max_tool_errors: 0,
          agent: { run: ['claude', '-p'] },
        },
        rev: { kind: 'review', needs: ['gen'], rubric: 'r', diff: false, approve_threshold: 0.9, fail_on: 'major' },
        val: {
          kind: 'scenario-validate',
          needs: ['gen'],
          scenarios: ['scenarios/*.yaml', 'more/*.yaml'],
          threshold: 0.75,
          judge_model: 'claude-y',
          feedback: 'full',
          runs: 3,
          timeout: '30s',
          retries: 0,
        },
        sub: { kind: 'pipeline', uses: 'builtin:review-only', with: { fail_on: 'major' }, timeout: '1h' },
        gate: {
          kind: 'approve',
          needs: ['rev'],
          if: '${{ always() }}',
          message: 'Ship it?',
          show: ['${{ stages.rev.outputs.findings }}'],
          timeout: '2h',
          on_timeout: 'approve',
        },
        again: {
          kind: 'loop',
          max_iterations: 1,
          until: '${{ true }}',
          timeout: '1h',
          stages: { inner: { kind: 'command', run: 'true' } },
        },
      },
    };
    expect(errorsOf(validateFactory, config)).toEqual([]);
  });

  it('a file that extends a template, without stages, or removing a stage with null', () => {
    expect(errorsOf(validateFactory, { version: 1, extends: 'builtin:spec-to-code', with: { spec: 'A.md' } })).toEqual([]);
    expect(
      errorsOf(validateFactory, {
        version: 1,
        extends: './pipelines/spec-to-code.yaml',
        stages: { review: null, lint: { kind: 'command', run: 'npm run lint' } },
      }),
    ).toEqual([]);
  });
});

describe('factory.schema.json rejects', () => {
  it('an unknown top-level key', () => {
    const errors = errorsOf(validateFactory, { ...minimal, stagse: {} });
    expect(errors).toEqual([
      { keyword: 'unevaluatedProperties', instancePath: '', params: { unevaluatedProperty: 'stagse' } },
    ]);
  });

  it('an unknown key in a command stage, at that stage', () => {
    const errors = errorsOf(validateFactory, withStage({ kind: 'command', run: 'x', rnu: 'y' }));
    expect(errors).toContainEqual({
      keyword: 'unevaluatedProperties',
      instancePath: '/stages/only',
      params: { unevaluatedProperty: 'rnu' },
    });
    // The discriminator judges the stage only against the command schema: no oneOf cascade.
    expect(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'const')).toEqual([]);
  });

  it('an unknown key in a nested loop stage, at its path', () => {
    const config = withStage({
      kind: 'loop',
      max_iterations: 2,
      stages: { inner: { kind: 'plan', prompt: 'p', temprature: 1 } },
    });
    expect(errorsOf(validateFactory, config)).toContainEqual({
      keyword: 'unevaluatedProperties',
      instancePath: '/stages/only/stages/inner',
      params: { unevaluatedProperty: 'temprature' },
    });
  });

  it('a command stage without run', () => {
    expect(errorsOf(validateFactory, withStage({ kind: 'command' }))).toContainEqual({
      keyword: 'required',
      instancePath: '/stages/only',
      params: { missingProperty: 'run' },
    });
  });

  it('a loop without max_iterations', () => {
    const errors = errorsOf(validateFactory, withStage({ kind: 'loop', stages: { a: { kind: 'command', run: 'x' } } }));
    expect(errors).toContainEqual({
      keyword: 'required',
      instancePath: '/stages/only',
      params: { missingProperty: 'max_iterations' },
    });
  });

  it('a stage with an unknown kind, as a discriminator error', () => {
    const errors = errorsOf(validateFactory, withStage({ kind: 'comand', run: 'x' }));
    expect(errors).toContainEqual({
      keyword: 'discriminator',
      instancePath: '/stages/only',
      params: { error: 'mapping', tag: 'kind', tagValue: 'comand' },
    });
    expect(errors.filter((e) => e.keyword !== 'discriminator' && e.keyword !== 'if')).toEqual([]);
  });

  it('a stage without kind', () => {
    expect(errorsOf(validateFactory, withStage({ run: 'x' }))).toContainEqual({
      keyword: 'required',
      instancePath: '/stages/only',
      params: { missingProperty: 'kind' },
    });
  });

  it('a bad duration', () => {
    for (const timeout of ['5 minutes', '10', 'm5', '']) {
      const errors = errorsOf(validateFactory, withStage({ kind: 'command', run: 'x', timeout }));
      expect(errors).toContainEqual(expect.objectContaining({ keyword: 'pattern', instancePath: '/stages/only/timeout' }));
    }
    const numeric = errorsOf(validateFactory, { ...minimal, defaults: { timeout: 90 } });
    expect(numeric).toContainEqual(expect.objectContaining({ keyword: 'type', instancePath: '/defaults/timeout' }));
  });

  it('a bad token count', () => {
    for (const tokens of ['2 M', '2G', -1, 1.5]) {
      const errors = errorsOf(validateFactory, { ...minimal, budget: { tokens } });
      expect(errors.some((e) => e.instancePath === '/budget/tokens')).toBe(true);
    }
  });

  it('a bad id in stages', () => {
    for (const id of ['Build', '1st', 'with space', 'a.b']) {
      const errors = errorsOf(validateFactory, { version: 1, stages: { [id]: { kind: 'command', run: 'x' } } });
      expect(errors).toContainEqual({ keyword: 'propertyNames', instancePath: '/stages', params: { propertyName: id } });
    }
  });

  it('retries on loop, pipeline and approve stages, which are never retried', () => {
    const stages = [
      { kind: 'loop', max_iterations: 2, stages: { a: { kind: 'command', run: 'x' } } },
      { kind: 'pipeline', uses: 'builtin:bugfix' },
      { kind: 'approve', message: 'ok?' },
    ];
    for (const stage of stages) {
      expect(errorsOf(validateFactory, withStage({ ...stage, timeout: '1m' }))).toEqual([]);
      expect(errorsOf(validateFactory, withStage({ ...stage, retries: 1 }))).toContainEqual({
        keyword: 'unevaluatedProperties',
        instancePath: '/stages/only',
        params: { unevaluatedProperty: 'retries' },
      });
    }
  });

  it('LLM keys on stages that call no model', () => {
    expect(errorsOf(validateFactory, withStage({ kind: 'command', run: 'x', model: 'm' }))).toContainEqual({
      keyword: 'unevaluatedProperties',
      instancePath: '/stages/only',
      params: { unevaluatedProperty: 'model' },
    });
  });

  it('a missing version, a wrong version, and a file with neither stages nor extends', () => {
    expect(errorsOf(validateFactory, { stages: minimal.stages })).toContainEqual({
      keyword: 'required',
      instancePath: '',
      params: { missingProperty: 'version' },
    });
    expect(errorsOf(validateFactory, { ...minimal, version: 2 })).toContainEqual(
      expect.objectContaining({ keyword: 'const', instancePath: '/version' }),
    );
    expect(errorsOf(validateFactory, { version: 1 })).toContainEqual({
      keyword: 'required',
      instancePath: '',
      params: { missingProperty: 'stages' },
    });
    expect(errorsOf(validateFactory, { version: 1, stages: {} })).toContainEqual(
      expect.objectContaining({ keyword: 'minProperties', instancePath: '/stages' }),
    );
  });

  it('a null stage or `with` without extends', () => {
    expect(errorsOf(validateFactory, { version: 1, stages: { a: null, b: { kind: 'command', run: 'x' } } })).toContainEqual(
      expect.objectContaining({ keyword: 'type', instancePath: '/stages/a' }),
    );
    expect(errorsOf(validateFactory, { ...minimal, with: { a: 1 } })).toContainEqual(
      expect.objectContaining({ keyword: 'dependentRequired', instancePath: '' }),
    );
  });

  it('out-of-range values and bad enums', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ ...minimal, concurrency: 0 }, 'minimum', '/concurrency'],
      [{ ...minimal, budget: { warn_at: 1.5 } }, 'maximum', '/budget/warn_at'],
      [{ ...minimal, budget: { on_exhausted: 'ask' } }, 'unevaluatedProperties', '/budget'],
      [{ ...minimal, defaults: { provider: 'gemini' } }, 'enum', '/defaults/provider'],
      [{ ...minimal, params: { n: { type: 'list' } } }, 'enum', '/params/n/type'],
      [{ ...minimal, pricing: { m: { input: 1 } } }, 'required', '/pricing/m'],
      [{ ...minimal, env: { 'BAD-NAME': 'x' } }, 'propertyNames', '/env'],
      [withStage({ kind: 'review', approve_threshold: 2 }), 'maximum', '/stages/only/approve_threshold'],
      [withStage({ kind: 'review', fail_on: 'info' }), 'enum', '/stages/only/fail_on'],
      [withStage({ kind: 'generate', prompt: 'p', tools: ['bash'] }), 'enum', '/stages/only/tools/0'],
      [withStage({ kind: 'scenario-validate', scenarios: 'a', feedback: 'all' }), 'enum', '/stages/only/feedback'],
      [withStage({ kind: 'scenario-validate', scenarios: 'a', runs: 0 }), 'minimum', '/stages/only/runs'],
      [withStage({ kind: 'scenario-validate' }), 'required', '/stages/only'],
      [withStage({ kind: 'loop', max_iterations: 0, stages: minimal.stages }), 'minimum', '/stages/only/max_iterations'],
      [withStage({ kind: 'pipeline' }), 'required', '/stages/only'],
      [withStage({ kind: 'approve', on_timeout: 'wait' }), 'enum', '/stages/only/on_timeout'],
      [withStage({ kind: 'command', run: [] }), 'minItems', '/stages/only/run'],
      [withStage({ kind: 'command', run: 'x', needs: ['Bad'] }), 'pattern', '/stages/only/needs/0'],
      [withStage({ kind: 'command', run: 'x', budget: { extend: { warn_at: 1 } } }), 'unevaluatedProperties', '/stages/only/budget/extend'],
      [withStage({ kind: 'generate', prompt: 'p', agent: { run: 'claude' } }), 'type', '/stages/only/agent/run'],
    ];
    for (const [config, keyword, instancePath] of cases) {
      expect(errorsOf(validateFactory, config), `${keyword} at ${instancePath}`).toContainEqual(
        expect.objectContaining({ keyword, instancePath }),
      );
    }
  });
});

describe('factory.schema.json shape', () => {
  const defs = factorySchema.$defs as Record<string, SchemaObject>;
  const kindSchemas: Record<string, string> = {
    command: 'commandStage',
    plan: 'planStage',
    generate: 'generateStage',
    review: 'reviewStage',
    'scenario-validate': 'scenarioValidateStage',
    loop: 'loopStage',
    pipeline: 'pipelineStage',
    approve: 'approveStage',
    learn: 'learnStage',
  };

  it('dispatches a stage on kind to one closed schema per kind', () => {
    const stage = defs.stage as { oneOf: { $ref: string }[]; discriminator: unknown; required: string[] };
    expect(stage.discriminator).toEqual({ propertyName: 'kind' });
    expect(stage.required).toEqual(['kind']);
    expect(stage.oneOf.map((s) => s.$ref).sort()).toEqual(
      Object.values(kindSchemas)
        .map((name) => `#/$defs/${name}`)
        .sort(),
    );
    expect([...((defs.stageKind as { enum: string[] }).enum)].sort()).toEqual(Object.keys(kindSchemas).sort());
    for (const [kind, name] of Object.entries(kindSchemas)) {
      const schema = defs[name] as {
        properties: { kind: { const: string } };
        required: string[];
        unevaluatedProperties: boolean;
        allOf: { $ref: string }[];
      };
      expect(schema.properties.kind.const).toBe(kind);
      expect(schema.required).toContain('kind');
      expect(schema.unevaluatedProperties).toBe(false);
      expect(schema.allOf[0]).toEqual({ $ref: '#/$defs/stageCommon' });
    }
  });

  it('keeps the shared parts open, so that only the kind schemas close', () => {
    for (const name of ['stageCommon', 'workStage', 'llmStage', 'budgetLimits']) {
      expect(defs[name]).not.toHaveProperty('additionalProperties');
      expect(defs[name]).not.toHaveProperty('unevaluatedProperties');
    }
  });

  it('has the $defs other code refers to', () => {
    for (const name of [
      'id', 'duration', 'tokens', 'expression', 'param', 'budget', 'stageBudget', 'defaults', 'providers',
      'pricing', 'watch', 'stages', 'stage', 'stageCommon', 'workStage', 'llmStage', ...Object.values(kindSchemas),
    ]) {
      expect(defs, name).toHaveProperty(name);
    }
  });
});

/** Every place a schema holds a map of property schemas, with its JSON pointer. */
function propertyMaps(node: Json, pointer = ''): [string, Record<string, Json>][] {
  if (Array.isArray(node)) return node.flatMap((item, i) => propertyMaps(item, `${pointer}/${i}`));
  if (node === null || typeof node !== 'object') return [];
  const found: [string, Record<string, Json>][] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      found.push([`${pointer}/properties`, value]);
    }
    // Defaults, consts, enums and examples are data, not schemas.
    if (['default', 'const', 'enum', 'examples'].includes(key)) continue;
    found.push(...propertyMaps(value, `${pointer}/${key}`));
  }
  return found;
}

describe.each([
  ['factory.schema.json', factorySchema],
  ['scenario.schema.json', scenarioSchema],
  ['cassette.schema.json', cassetteSchema],
])('%s documentation', (_name, schema) => {
  it('describes every property', () => {
    const missing: string[] = [];
    const maps = propertyMaps(schema);
    expect(maps.length).toBeGreaterThan(0);
    for (const [pointer, properties] of maps) {
      for (const [key, sub] of Object.entries(properties)) {
        const description = (sub as SchemaObject | null)?.description;
        if (typeof description !== 'string' || description.trim() === '') missing.push(`${pointer}/${key}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives every $def a title (it names the generated type) and a description', () => {
    expect(typeof schema.title).toBe('string');
    expect(typeof schema.description).toBe('string');
    for (const [name, def] of Object.entries((schema.$defs ?? {}) as Record<string, SchemaObject>)) {
      expect(typeof def.title, name).toBe('string');
      expect(typeof def.description, name).toBe('string');
    }
  });
});

describe('scenario.schema.json', () => {
  it('accepts the scenario of docs/configuration.md', () => {
    expect(errorsOf(validateScenario, parse(specScenario))).toEqual([]);
  });

  it('accepts every expectation', () => {
    const scenario = {
      name: 'all expectations',
      steps: [
        {
          run: ['node', 'cli.js', '4'],
          timeout: '5s',
          expect: {
            exit_code: 0,
            stdout_contains: ['I', 'V'],
            stdout_matches: '^IV$',
            stderr_contains: '',
            stderr_matches: ['^$'],
            file_exists: ['out.txt', 'log.txt'],
            file_contains: { path: 'out.txt', text: 'IV' },
          },
        },
        { run: 'cat out.txt', expect: { file_contains: [{ path: 'out.txt', text: 'IV' }], file_exists: 'out.txt' } },
        { run: 'true' },
      ],
      judge: { rubric: 'r', model: 'claude-z' },
    };
    expect(errorsOf(validateScenario, scenario)).toEqual([]);
  });

  it('rejects unknown keys, a missing name, no steps and malformed expectations', () => {
    const base = { name: 'n', steps: [{ run: 'x' }] };
    const cases: [unknown, string, string][] = [
      [{ ...base, wieght: 1 }, 'additionalProperties', ''],
      [{ steps: base.steps }, 'required', ''],
      [{ name: 'n', steps: [] }, 'minItems', '/steps'],
      [{ ...base, weight: -1 }, 'minimum', '/weight'],
      [{ name: 'n', steps: [{ run: 'x', expect: { stdout_contain: 'a' } }] }, 'additionalProperties', '/steps/0/expect'],
      [{ name: 'n', steps: [{ run: 'x', expect: { file_contains: { path: 'a' } } }] }, 'required', '/steps/0/expect/file_contains'],
      [{ name: 'n', steps: [{ run: 'x', expect: { file_contains: 'a' } }] }, 'anyOf', '/steps/0/expect/file_contains'],
      [{ name: 'n', steps: [{ run: 'x', timeout: 5 }] }, 'type', '/steps/0/timeout'],
      [{ name: 'n', steps: [{ expect: { exit_code: 0 } }] }, 'required', '/steps/0'],
      [{ ...base, judge: {} }, 'required', '/judge'],
    ];
    for (const [scenario, keyword, instancePath] of cases) {
      expect(errorsOf(validateScenario, scenario), `${keyword} at ${instancePath}`).toContainEqual(
        expect.objectContaining({ keyword, instancePath }),
      );
    }
  });
});

describe('cassette.schema.json', () => {
  const message = {
    id: 'msg_01',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-5-5',
    content: [
      { type: 'text', text: 'Plan: ...' },
      { type: 'tool_use', id: 'toolu_01', name: 'write_file', input: { path: 'a.js', content: '' } },
    ],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 120, output_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: null },
  };

  it('accepts a small cassette, with judge calls and a recorded request', () => {
    const cassette = {
      version: 1,
      calls: [
        { stage: 'plan', iteration: 0, call: 1, response: message },
        {
          stage: 'build.generate',
          iteration: 2,
          call: 3,
          request: { model: 'claude-sonnet-5-5', max_tokens: 100, messages: [] },
          response: { ...message, service_tier: 'standard' },
        },
        {
          stage: 'build.validate',
          iteration: 1,
          call: 1,
          scenario: 'converts 1994',
          run: 2,
          response: { ...message, content: [{ type: 'tool_use', id: 't', name: 'submit_score', input: { score: 1, reason: 'ok' } }] },
        },
      ],
    };
    expect(errorsOf(validateCassette, cassette)).toEqual([]);
    expect(errorsOf(validateCassette, { version: 1, calls: [] })).toEqual([]);
  });

  it('rejects a malformed cassette', () => {
    const call = { stage: 'plan', iteration: 0, call: 1, response: message };
    const cases: [unknown, string, string][] = [
      [{ version: 2, calls: [] }, 'const', '/version'],
      [{ version: 1 }, 'required', ''],
      [{ version: 1, calls: [{ ...call, extra: 1 }] }, 'additionalProperties', '/calls/0'],
      [{ version: 1, calls: [{ ...call, stage: 'build/generate' }] }, 'pattern', '/calls/0/stage'],
      [{ version: 1, calls: [{ ...call, call: 0 }] }, 'minimum', '/calls/0/call'],
      [{ version: 1, calls: [{ stage: 'plan', iteration: 0, call: 1 }] }, 'required', '/calls/0'],
      [{ version: 1, calls: [{ ...call, response: { ...message, role: 'user' } }] }, 'const', '/calls/0/response/role'],
      [{ version: 1, calls: [{ ...call, response: { ...message, content: [{ text: 'x' }] } }] }, 'required', '/calls/0/response/content/0'],
      [{ version: 1, calls: [{ ...call, response: { ...message, usage: { input_tokens: 1 } } }] }, 'required', '/calls/0/response/usage'],
    ];
    for (const [cassette, keyword, instancePath] of cases) {
      expect(errorsOf(validateCassette, cassette), `${keyword} at ${instancePath}`).toContainEqual(
        expect.objectContaining({ keyword, instancePath }),
      );
    }
  });
});
