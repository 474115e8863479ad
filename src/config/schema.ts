import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { PACKAGE_ROOT_URL } from '../base/package-root.js';
import { diagnostic, type Diagnostic } from './diagnostics.js';
import validateCassette from './generated/validate-cassette.js';
import validateFactory from './generated/validate-factory.js';
import validateScenario from './generated/validate-scenario.js';
import { locate, type LoadedFile, type PathSegment } from './load/load.js';
import { didYouMean, oneOf } from './suggest.js';
import { DURATION_HINT, TOKENS_HINT } from './units.js';

export type SchemaName = 'factory' | 'scenario' | 'cassette' | 'run';

type SchemaNode = { [key: string]: unknown };

const schemaUrl = (name: SchemaName) => new URL(`schemas/${name}.schema.json`, PACKAGE_ROOT_URL);

/**
 * Validators compiled from schemas/ at build time (scripts/gen-validators.mjs) with
 * allErrors, verbose and the discriminator, so a start costs no schema compilation.
 */
const validators: Partial<Record<SchemaName, ValidateFunction>> = {
  factory: validateFactory,
  scenario: validateScenario,
  cassette: validateCassette,
};

const parsedSchemas = new Map<SchemaName, SchemaNode>();

export function schemaText(name: SchemaName): string {
  return readFileSync(schemaUrl(name), 'utf8');
}

function schemaJson(name: SchemaName): SchemaNode {
  let schema = parsedSchemas.get(name);
  if (!schema) {
    schema = JSON.parse(schemaText(name)) as SchemaNode;
    parsedSchemas.set(name, schema);
  }
  return schema;
}

export function validateValue(name: 'cassette' | 'scenario' | 'factory', value: unknown): ErrorObject[] {
  const validate = validators[name]!;
  return validate(value) ? [] : [...(validate.errors ?? [])];
}

/** Checks a loaded document against one of our schemas; every error points at its node. */
export function validateAgainstSchema(loaded: LoadedFile, name: 'factory' | 'scenario' | 'cassette'): Diagnostic[] {
  const errors = validateValue(name, loaded.value);
  return errors.length ? explainErrors(errors, loaded, schemaJson(name)) : [];
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describePath(path: readonly PathSegment[]): string {
  if (path.length === 0) return 'the top level';
  const last = path[path.length - 1];
  if (typeof last === 'number') return `item ${last + 1} of ${describePath(path.slice(0, -1))}`;
  const [first, second, ...rest] = path;
  if (first === 'stages' && typeof second === 'string') {
    let label = `stage "${second}"`;
    let i = 0;
    // Nested stages read as stage "build.generate".
    const tail = [...rest];
    while (tail[i] === 'stages' && typeof tail[i + 1] === 'string') {
      label = label.slice(0, -1) + `.${String(tail[i + 1])}"`;
      i += 2;
    }
    const remaining = tail.slice(i);
    return remaining.length ? `\`${remaining.join('.')}\` of ${label}` : label;
  }
  return `\`${path.join('.')}\``;
}

function lastKey(path: readonly PathSegment[]): string {
  const last = path[path.length - 1];
  return last === undefined ? 'the top level' : `\`${String(last)}\``;
}

/** Resolves a local `$ref` ("#/$defs/x") inside the root schema. */
function deref(root: SchemaNode, node: SchemaNode): SchemaNode {
  const ref = node.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return node;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) target = (target as SchemaNode | undefined)?.[part];
  return (target as SchemaNode | undefined) ?? node;
}

/** Every key a schema node allows, following `$ref` and `allOf` (how the kinds compose). */
function allowedKeys(root: SchemaNode, node: SchemaNode, seen = new Set<SchemaNode>()): string[] {
  const resolved = deref(root, node);
  if (seen.has(resolved)) return [];
  seen.add(resolved);
  const keys = Object.keys((resolved.properties as SchemaNode | undefined) ?? {});
  for (const part of (resolved.allOf as SchemaNode[] | undefined) ?? []) keys.push(...allowedKeys(root, part, seen));
  return [...new Set(keys)];
}

function kindsOf(root: SchemaNode, discriminated: SchemaNode): string[] {
  const kinds: string[] = [];
  for (const branch of (discriminated.oneOf as SchemaNode[] | undefined) ?? []) {
    const kind = ((deref(root, branch).properties as SchemaNode | undefined)?.kind as SchemaNode | undefined)?.const;
    if (typeof kind === 'string') kinds.push(kind);
  }
  return kinds;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `the boolean ${JSON.stringify(value)}`; // a parsed YAML value: what is left is a boolean
}

function expectedType(type: unknown): string {
  const names: Record<string, string> = {
    object: 'a map', array: 'a list', string: 'a string', number: 'a number', integer: 'a whole number', boolean: 'true or false', null: 'null',
  };
  const list = (Array.isArray(type) ? type : [type]).map((t) => names[String(t)] ?? String(t));
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0] ?? 'another type';
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const s of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(s)] : undefined;
  return v;
}

/** Which named definition a schemaPath ends in (e.g. "duration" for "#/$defs/duration/pattern"). */
function definitionOf(schemaPath: string): string | undefined {
  const m = /#\/\$defs\/([^/]+)\/[^/]+$/.exec(schemaPath) ?? /#\/\$defs\/([^/]+)\/(?:anyOf|oneOf)\/\d+\/[^/]+$/.exec(schemaPath);
  return m?.[1];
}

function explainErrors(errors: ErrorObject[], loaded: LoadedFile, root: SchemaNode): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  // Branch errors of an anyOf are noise once the anyOf itself is reported: keep the anyOf.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => `${e.instancePath}|${e.schemaPath}`));
  const underAnyOf = (e: ErrorObject) =>
    [...anyOfPaths].some((key) => {
      const [ip, sp] = key.split('|') as [string, string];
      return e.instancePath === ip && e.schemaPath !== sp && e.schemaPath.startsWith(sp.replace(/(anyOf|oneOf)$/, ''));
    });
  // When a branch of an anyOf matched the value's shape but not its contents (a list with one bad
  // item), the errors inside say more than "must be a string or a list": keep those instead.
  const deeper = (e: ErrorObject) =>
    errors.some((o) => o.instancePath.startsWith(`${e.instancePath}/`) && o.schemaPath.startsWith(`${e.schemaPath}/`));
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    if ((e.keyword === 'anyOf' || e.keyword === 'oneOf') && deeper(e)) continue;
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && underAnyOf(e)) continue;
    const d = explainOne(e, loaded, root);
    if (!d) continue;
    const key = `${d.line}:${d.column}:${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function explainOne(e: ErrorObject, loaded: LoadedFile, root: SchemaNode): Diagnostic | undefined {
  const path = pointerToPath(e.instancePath);
  const file = loaded.file;
  const params = e.params as Record<string, unknown>;
  const value = valueAt(loaded.value, path);
  const def = definitionOf(e.schemaPath);

  if (e.propertyName !== undefined) {
    const keyPath = [...path, e.propertyName];
    if (path[path.length - 1] === 'env') {
      return diagnostic(file, locate(loaded, keyPath, 'key'), 'bad-env-name', `"${e.propertyName}" is not a valid environment variable name in ${describePath(path)}`,
        'use letters, digits and `_`, not starting with a digit (e.g. `MY_VAR`)');
    }
    // A bad key in a map whose keys are ids (stages, params, outputs).
    return diagnostic(file, locate(loaded, keyPath, 'key'), 'bad-id', `"${e.propertyName}" is not a valid id in ${describePath(path)}`,
      'ids start with a lowercase letter and use only a-z, 0-9, `_` and `-`');
  }
  switch (e.keyword) {
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const key = String(params.additionalProperty ?? params.unevaluatedProperty);
      const allowed = allowedKeys(root, e.parentSchema ?? {});
      const where = describePath(path);
      return diagnostic(file, locate(loaded, [...path, key], 'key'), 'unknown-key',
        `unknown key "${key}" in ${where}${didYouMean(key, allowed)}`,
        allowed.length ? `allowed keys: ${allowed.join(', ')}` : undefined);
    }
    case 'required': {
      const missing = String(params.missingProperty);
      // A stage without `kind` also fails the discriminator, whose message lists the kinds.
      if (missing === 'kind' && path[path.length - 2] === 'stages') return undefined;
      return diagnostic(file, locate(loaded, path, 'key'), 'missing-key', `${describePath(path)} is missing the required key \`${missing}\``,
        missing === 'max_iterations' ? 'a loop must say how many iterations it may take at most: add `max_iterations: N`'
          : missing === 'version' ? 'add `version: 1` at the top of the file' : `add \`${missing}:\``);
    }
    case 'discriminator': {
      const kinds = kindsOf(root, e.parentSchema ?? {});
      const kindValue = (value as Record<string, unknown> | undefined)?.kind;
      if (params.error === 'mapping' && typeof kindValue === 'string') {
        return diagnostic(file, locate(loaded, [...path, 'kind']), 'unknown-kind', `unknown kind "${kindValue}" for ${describePath(path)}${didYouMean(kindValue, kinds)}`,
          `kinds: ${kinds.join(', ')}`);
      }
      return diagnostic(file, locate(loaded, kindValue === undefined ? path : [...path, 'kind'], kindValue === undefined ? 'key' : 'value'), 'missing-kind',
        kindValue === undefined ? `${describePath(path)} has no \`kind\`` : `the kind of ${describePath(path)} must be a string, not ${typeName(kindValue)}`,
        `add \`kind:\` with one of: ${kinds.join(', ')}`);
    }
    case 'type':
      if (def === 'duration') return diagnostic(file, locate(loaded, path), 'bad-duration', `${describePath(path)} is not a duration: ${typeName(value)}`, DURATION_HINT);
      return diagnostic(file, locate(loaded, path), 'wrong-type', `${describePath(path)} must be ${expectedType(params.type)}, not ${typeName(value)}`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? [];
      const near = typeof value === 'string' ? didYouMean(value, allowed.filter((a): a is string => typeof a === 'string')) : '';
      return diagnostic(file, locate(loaded, path), 'bad-value', `${describePath(path)} is ${typeName(value)}${near}; allowed: ${oneOf(allowed)}`);
    }
    case 'const':
      return diagnostic(file, locate(loaded, path), 'bad-value', `${describePath(path)} must be ${JSON.stringify(params.allowedValue)}, not ${typeName(value)}`,
        path[0] === 'version' ? 'this engine reads version 1 of the language: write `version: 1`' : undefined);
    case 'pattern':
      if (def === 'duration') return diagnostic(file, locate(loaded, path), 'bad-duration', `${describePath(path)} is not a duration: ${typeName(value)}`, DURATION_HINT);
      if (def === 'tokens') return diagnostic(file, locate(loaded, path), 'bad-tokens', `${describePath(path)} is not a token count: ${typeName(value)}`, TOKENS_HINT);
      if (def === 'id') return diagnostic(file, locate(loaded, path), 'bad-id', `${typeName(value)} in ${describePath(path)} is not a valid id`, 'ids start with a lowercase letter and use only a-z, 0-9, `_` and `-`');
      return diagnostic(file, locate(loaded, path), 'bad-value', `${describePath(path)} does not match the pattern ${String(params.pattern)}`);
    case 'anyOf':
    case 'oneOf': {
      if (def === 'tokens') return diagnostic(file, locate(loaded, path), 'bad-tokens', `${describePath(path)} is not a token count: ${typeName(value)}`, TOKENS_HINT);
      if (def === 'duration') return diagnostic(file, locate(loaded, path), 'bad-duration', `${describePath(path)} is not a duration: ${typeName(value)}`, DURATION_HINT);
      const branches = ((e.schema as SchemaNode[] | undefined) ?? []).map((b) => deref(root, b));
      const forms = branches.map((b) => (typeof b.description === 'string' && b.type === undefined ? (typeof b.title === 'string' ? b.title : b.description) : expectedType(b.type ?? 'a value')));
      return diagnostic(file, locate(loaded, path), 'wrong-type', `${describePath(path)} must be ${forms.join(', or ')}, not ${typeName(value)}`);
    }
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const words: Record<string, string> = { minimum: 'at least', exclusiveMinimum: 'more than', maximum: 'at most', exclusiveMaximum: 'less than' };
      const subject = typeof path[path.length - 1] === 'number' ? describePath(path) : `${lastKey(path)} in ${describePath(path.slice(0, -1))}`;
      return diagnostic(file, locate(loaded, path), 'out-of-range', `${subject} must be ${words[e.keyword]} ${String(params.limit)}, not ${String(value)}`);
    }
    case 'minItems':
      return diagnostic(file, locate(loaded, path), 'too-few', `${describePath(path)} must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
    case 'minProperties':
      return diagnostic(file, locate(loaded, path, 'key'), 'too-few', `${describePath(path)} must have at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`,
        path[path.length - 1] === 'stages' ? 'add a stage, for example `hello: { kind: command, run: echo hello }`' : undefined);
    case 'uniqueItems':
      // ajv's `i` is the later of the two equal items: the one to remove.
      return diagnostic(file, locate(loaded, [...path, Number(params.i)]), 'duplicate-item', `${describePath(path)} lists the same value twice`, 'remove the repeated entry');
    default:
      return diagnostic(file, locate(loaded, path), `schema-${e.keyword}`, `${describePath(path)} ${e.message ?? 'is invalid'}`);
  }
}
