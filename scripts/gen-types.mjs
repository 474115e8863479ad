#!/usr/bin/env node
// Generates TypeScript types from the JSON Schemas in schemas/ into src/config/generated/.
//
// The schema files are the one source of truth. json-schema-to-typescript does not read them
// quite as ajv and editors do, so this script adapts an in-memory copy before compiling it:
//  - `discriminator` and `examples` are dropped (unknown to it);
//  - in factory.schema.json, the if/then/else that chooses the shape of `stages` is replaced by
//    the merged form (`stages: Stages`), and `Stage` keeps only its `oneOf`, so it comes out as
//    the union of the kind types;
//  - `allOf` of local `$ref`s next to `properties` (a stage kind composing stageCommon,
//    workStage, llmStage; a budget composing budgetLimits) is flattened into one object, so each
//    kind is one interface instead of an intersection with a `Foo1` remainder;
//  - a `$ref` with sibling keywords (a property's own `description`) would be copied into a
//    numbered duplicate type (Duration1, Duration2...): it becomes a reference by name (`tsType`)
//    that keeps the property's description as its doc comment;
//  - a schema with no type at all (any JSON value) becomes `unknown`.
// Every `$defs` entry has a `title`, which names its exported type (PascalCase of the title).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src', 'config', 'generated');

/** Each schema file, its output, the name of its root type, and its schema-specific adaptation. */
const targets = [
  {
    schema: 'factory.schema.json',
    out: 'factory.ts',
    rootName: 'FactoryConfig',
    adapt: adaptFactory,
    expect: [
      'FactoryConfig', 'Stage', 'Stages', 'StageKind', 'StageCommon', 'WorkStage', 'LLMStage',
      'CommandStage', 'PlanStage', 'GenerateStage', 'ReviewStage', 'ScenarioValidateStage',
      'LoopStage', 'PipelineStage', 'ApproveStage', 'Param', 'Budget', 'StageBudget', 'Defaults',
      'Providers', 'Pricing', 'Watch', 'Duration', 'Tokens', 'Expression', 'Id',
    ],
  },
  {
    schema: 'scenario.schema.json',
    out: 'scenario.ts',
    rootName: 'Scenario',
    adapt: (s) => s,
    expect: ['Scenario', 'Step', 'Expect', 'FileContains', 'Judge'],
  },
  {
    schema: 'cassette.schema.json',
    out: 'cassette.ts',
    rootName: 'Cassette',
    adapt: (s) => s,
    expect: ['Cassette', 'CassetteCall', 'Message', 'ContentBlock', 'Usage'],
  },
  {
    schema: 'run.schema.json',
    out: 'run.ts',
    rootName: 'RunRecord',
    adapt: adaptRun,
    imports: "import type { JsonValue } from '../pipeline.js';",
    // Maps of stages stay plain index signatures (noUncheckedIndexedAccess already adds undefined to a lookup).
    strictIndexSignatures: false,
    expect: [
      'RunRecord', 'StageRecord', 'StageFields', 'StageFile', 'IterationRecord', 'RunStatus', 'StageStatus',
      'Reason', 'StageKind', 'Outputs', 'Usage', 'JournalEvent', 'RunOpenedEvent', 'StageOutputsEvent',
      'IterationsDroppedEvent', 'RunEndedEvent', 'CacheEntry', 'FileChange', 'ApprovalAnswer', 'ApprovalQuestion',
    ],
  },
];

/** Keywords that say what type a schema has; a schema with none of them accepts any value. */
const TYPE_KEYWORDS = [
  'type', '$ref', 'anyOf', 'oneOf', 'allOf', 'enum', 'const', 'properties',
  'additionalProperties', 'items', 'tsType',
];
/** Keywords that only annotate a schema, kept beside a `$ref` turned into a `tsType`. */
const ANNOTATIONS = ['title', 'description', 'default', 'deprecated'];

/** PascalCase of a title: "Scenario-validate stage" → "ScenarioValidateStage". */
function typeName(title) {
  return title
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join('');
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The schema a local ref ("#/$defs/name") points at. */
function resolveLocal(rootSchema, ref) {
  if (!ref.startsWith('#/')) throw new Error(`gen-types: only local $refs are supported, got ${ref}`);
  let node = rootSchema;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  if (!isObject(node)) throw new Error(`gen-types: unresolved $ref ${ref}`);
  return node;
}

/** Applies fn bottom-up to every schema object of the tree (and to arrays' items). */
function mapTree(node, fn) {
  if (Array.isArray(node)) return node.map((item) => mapTree(item, fn));
  if (!isObject(node)) return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) out[key] = mapTree(value, fn);
  return fn(out);
}

function stripUnknownKeywords(schema) {
  return mapTree(schema, (node) => {
    delete node.discriminator;
    delete node.examples;
    return node;
  });
}

/** Merges `allOf: [{$ref}...]` into the object's own properties and required. */
function flattenAllOf(schema) {
  const rootSchema = schema;
  const flatten = (node) => {
    if (!Array.isArray(node.allOf) || !node.allOf.every((part) => typeof part.$ref === 'string')) {
      return node;
    }
    const properties = {};
    const required = new Set();
    for (const part of node.allOf) {
      const target = flatten(structuredClone(resolveLocal(rootSchema, part.$ref)));
      if (target.type !== 'object' || target.allOf || target.oneOf || target.anyOf) {
        throw new Error(`gen-types: cannot flatten allOf member ${part.$ref}`);
      }
      Object.assign(properties, target.properties);
      for (const key of target.required ?? []) required.add(key);
    }
    Object.assign(properties, node.properties);
    for (const key of node.required ?? []) required.add(key);
    const out = { ...node, properties };
    delete out.allOf;
    if (required.size > 0) out.required = [...required];
    return out;
  };
  return mapTree(schema, flatten);
}

/** `{$ref, description, ...}` → `{tsType: <name of the referenced type>, description, ...}`. */
function refsWithSiblingsByName(schema) {
  const rootSchema = schema;
  return mapTree(schema, (node) => {
    if (typeof node.$ref !== 'string' || Object.keys(node).length === 1) return node;
    const target = resolveLocal(rootSchema, node.$ref);
    if (typeof target.title !== 'string') {
      throw new Error(`gen-types: ${node.$ref} needs a title to be named`);
    }
    const out = { tsType: typeName(target.title) };
    for (const key of ANNOTATIONS) if (key in node) out[key] = node[key];
    const unexpected = Object.keys(node).filter((key) => key !== '$ref' && !ANNOTATIONS.includes(key));
    if (unexpected.length > 0) {
      throw new Error(`gen-types: keywords beside $ref ${node.$ref}: ${unexpected.join(', ')}`);
    }
    return out;
  });
}

/** A schema that constrains no type (e.g. an env value: any JSON value) is `unknown`. */
function untypedAsUnknown(schema) {
  const isRoot = (node) => node === schema;
  const walk = (node, depth) => {
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    if (!isObject(node)) return node;
    const out = {};
    for (const [key, value] of Object.entries(node)) {
      // `properties` and `$defs` hold maps of schemas, not schemas.
      if ((key === 'properties' || key === '$defs') && isObject(value)) {
        out[key] = Object.fromEntries(
          Object.entries(value).map(([name, sub]) => [name, walk(sub, depth + 1)]),
        );
      } else if (['default', 'const', 'enum', 'required'].includes(key)) {
        out[key] = value;
      } else {
        out[key] = walk(value, depth + 1);
      }
    }
    if (!isRoot(node) && !TYPE_KEYWORDS.some((key) => key in out)) out.tsType = 'unknown';
    return out;
  };
  return walk(schema, 0);
}

/**
 * factory.schema.json: `stages` in its merged form (a map of Stage: what the engine sees once
 * templates are applied), and Stage as the plain union of the kind schemas.
 */
function adaptFactory(schema) {
  schema.properties.stages = {
    description: schema.properties.stages.description,
    $ref: '#/$defs/stages',
  };
  delete schema.if;
  delete schema.then;
  delete schema.else;
  delete schema.dependentRequired;
  const stage = schema.$defs.stage;
  schema.$defs.stage = { title: stage.title, description: stage.description, oneOf: stage.oneOf };
  const overrides = schema.$defs.stageOverrides;
  overrides.additionalProperties = { anyOf: [{ type: 'null' }, { $ref: '#/$defs/stage' }] };
  return schema;
}

/**
 * run.schema.json: a journal event's per-type constraints (if/then) only validate, the type is
 * the common shape; outputs are JSON values. The stage kinds must be factory.schema.json's.
 */
async function adaptRun(schema) {
  const factory = JSON.parse(await readFile(join(root, 'schemas', 'factory.schema.json'), 'utf8'));
  const kinds = JSON.stringify([...schema.$defs.stage_kind.enum].sort());
  const factoryKinds = JSON.stringify([...factory.$defs.stageKind.enum].sort());
  if (kinds !== factoryKinds) {
    throw new Error(`gen-types: run.schema.json's stage_kind ${kinds} is not factory.schema.json's stageKind ${factoryKinds}`);
  }
  delete schema.$defs.journal_event.allOf;
  const outputs = schema.$defs.outputs;
  schema.$defs.outputs = { title: outputs.title, description: outputs.description, tsType: '{ [key: string]: JsonValue }' };
  return schema;
}

/** Fails the build when json-schema-to-typescript did not emit a type other code imports. */
function checkExports(ts, schema, names) {
  const missing = names.filter((name) => !new RegExp(`^export (type|interface) ${name}\\b`, 'm').test(ts));
  if (missing.length > 0) {
    throw new Error(`gen-types: ${schema} produced no type named ${missing.join(', ')}`);
  }
  const numbered = [...ts.matchAll(/^export (?:type|interface) ([A-Za-z]+\d+)\b/gm)].map((m) => m[1]);
  if (numbered.length > 0) {
    throw new Error(`gen-types: ${schema} produced duplicate types ${numbered.join(', ')}`);
  }
  if (schema === 'factory.schema.json' && !/^export type Stage =\s*\| CommandStage/m.test(ts)) {
    throw new Error('gen-types: Stage is not the union of the stage kinds');
  }
}

async function generate({ schema, out, rootName, adapt, imports, strictIndexSignatures = true, expect }) {
  const source = JSON.parse(await readFile(join(root, 'schemas', schema), 'utf8'));
  let adapted = await adapt(stripUnknownKeywords(structuredClone(source)));
  adapted = untypedAsUnknown(refsWithSiblingsByName(flattenAllOf(adapted)));
  adapted.title = rootName;
  const ts = await compile(adapted, rootName, {
    additionalProperties: false,
    bannerComment: `/* Generated from schemas/${schema} by scripts/gen-types.mjs: do not edit. */${imports ? `\n${imports}` : ''}`,
    customName: (node) => (typeof node.title === 'string' ? typeName(node.title) : undefined),
    declareExternallyReferenced: true,
    enableConstEnums: false,
    format: true,
    strictIndexSignatures,
    unreachableDefinitions: true,
    cwd: join(root, 'schemas'),
  });
  checkExports(ts, schema, expect);
  await writeFile(join(outDir, out), ts);
  return out;
}

await mkdir(outDir, { recursive: true });
for (const target of targets) {
  const out = await generate(target);
  console.log(`gen-types: wrote src/config/generated/${out}`);
}
