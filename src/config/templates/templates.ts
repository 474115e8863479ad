import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { loadYamlFile, locate, type LoadedFile, type Origin, type PathSegment } from '../load/load.js';
import { coerceParam, declaredParams, type ParamSpec } from './params.js';
import { didYouMean, oneOf } from '../suggest.js';
import { resolveTemplateRef } from './template-ref.js';
import { isRecord } from '../../base/is-record.js';

/**
 * `extends:` (docs/templates.md): the child's top-level keys override the template's, `stages` and
 * `params` merge by id (a child stage replaces the template's stage of the same id, `null`
 * removes it), and `with` fills the template's params. The result is one LoadedFile whose
 * `origins` say which file wrote each part, so every later check reports inside the template,
 * with the chain of `extends` that reached it.
 */
export interface Resolved {
  loaded: LoadedFile;
  diagnostics: Diagnostic[];
  /** Every template file read, outermost first (watch mode watches them). */
  templates: string[];
}

type Json = Record<string, unknown>;

export function resolveExtends(child: LoadedFile, cwd: string, chain: readonly string[] = [], via: readonly string[] = []): Resolved {
  const value = isRecord(child.value) ? child.value : {};
  if (typeof value.extends !== 'string') return { loaded: child, diagnostics: [], templates: [] };
  const ref = value.extends;
  const refPos = locate(child, ['extends']);
  const fail = (code: string, message: string, hint?: string): Resolved => ({
    loaded: child,
    diagnostics: [{ ...diagnostic(child.file, refPos, code, message, hint), ...(via.length ? { via: [...via] } : {}) }],
    templates: [],
  });
  const found = resolveTemplateRef(ref, child.absPath);
  if (!found.ok) return fail('template-missing', found.message, found.hint);
  const seen = [...chain, child.absPath];
  if (seen.includes(found.absPath)) {
    const names = [...seen.slice(seen.indexOf(found.absPath)), found.absPath].map((p) => p.split('/').slice(-1)[0]);
    return fail('template-cycle', `templates extend each other in a cycle: ${names.join(' → ')}`, 'remove one of these `extends`');
  }
  const step = `${refPos.file ?? child.file}:${refPos.line}:${refPos.column} extends`;
  const nextVia = [...via, step];
  const loadedTemplate = loadYamlFile(found.absPath, cwd);
  if (!loadedTemplate.ok) return { loaded: child, diagnostics: loadedTemplate.diagnostics.map((d) => ({ ...d, via: [...nextVia] })), templates: [found.absPath] };
  // The merged pipeline is validated against the schema as a whole, and its positions lead back
  // here through `origins`, so the template is not validated on its own.
  const inner = resolveExtends(loadedTemplate.loaded, cwd, seen, nextVia);
  const template = inner.loaded;
  const diagnostics = [...inner.diagnostics];
  // Origins hold only this step: a position found through the template's own origins already
  // carries the steps beyond it, and the outer ones are added as positions travel outwards.
  const merged = merge(child, template, [step], diagnostics);
  return { loaded: merged, diagnostics, templates: [found.absPath, ...inner.templates] };
}

function merge(child: LoadedFile, template: LoadedFile, via: readonly string[], diagnostics: Diagnostic[]): LoadedFile {
  const c = child.value as Json;
  const t = isRecord(template.value) ? template.value : {};
  const origins: Origin[] = [...(child.origins ?? [])];
  const fromTemplate = (at: PathSegment[]) => origins.push({ at, loaded: template, target: at, via });
  const value: Json = {};
  for (const [key, v] of Object.entries(t)) {
    if (key === 'stages' || key === 'params' || key === 'extends' || key === 'with') continue;
    if (!(key in c)) {
      value[key] = v;
      fromTemplate([key]);
    }
  }
  for (const [key, v] of Object.entries(c)) {
    if (key === 'stages' || key === 'params' || key === 'extends' || key === 'with') continue;
    value[key] = v;
  }
  value.params = mergeParams(child, template, via, origins, diagnostics);
  value.stages = mergeById(isRecord(t.stages) ? t.stages : {}, isRecord(c.stages) ? c.stages : {}, (id) => fromTemplate(['stages', id]));
  return { ...child, value, origins };
}

/** Template entries first (in their order), then the child's: a child entry replaces, `null` removes. */
function mergeById(template: Json, child: Json, fromTemplate: (id: string) => void): Json {
  const out: Json = {};
  for (const [id, v] of Object.entries(template)) {
    if (id in child) continue;
    if (v === null) continue;
    out[id] = v;
    fromTemplate(id);
  }
  for (const [id, v] of Object.entries(child)) if (v !== null) out[id] = v;
  return out;
}

/** The template's params with `with` as their defaults, then the child's own params by id. */
function mergeParams(child: LoadedFile, template: LoadedFile, via: readonly string[], origins: Origin[], diagnostics: Diagnostic[]): Json {
  const c = child.value as Json;
  const specs = declaredParams(template.value);
  const raw = isRecord((template.value as Json).params) ? ((template.value as Json).params as Json) : {};
  const out: Json = {};
  for (const [id, spec] of Object.entries(raw)) {
    out[id] = spec;
    origins.push({ at: ['params', id], loaded: template, target: ['params', id], via });
  }
  const given = isRecord(c.with) ? c.with : {};
  for (const [id, v] of Object.entries(given)) {
    const spec = specs.get(id);
    const at = locate(child, ['with', id], 'key');
    if (!spec) {
      const known = [...specs.keys()];
      diagnostics.push(diagnostic(child.file, at, 'with-unknown-param', `the template has no param "${id}"${didYouMean(id, known)}`, known.length ? `its params: ${known.join(', ')}` : 'the template declares no params'));
      continue;
    }
    const problem = withProblem(v, spec);
    if (problem) {
      diagnostics.push(diagnostic(child.file, locate(child, ['with', id]), 'with-wrong-value', `with ${id}: ${problem}`));
      continue;
    }
    out[id] = { ...(raw[id] as Json), default: v };
    // The value was written in the child: point there, not at the template's declaration.
    origins.push({ at: ['params', id, 'default'], loaded: child, target: ['with', id], via: [] });
  }
  for (const [id, spec] of Object.entries(isRecord(c.params) ? c.params : {})) out[id] = spec;
  return out;
}

/** Why a `with` value does not fit its param, or undefined when it does (or is an expression). */
export function withProblem(value: unknown, spec: ParamSpec): string | undefined {
  if (typeof value === 'string' && value.includes('${{')) return undefined; // evaluated at run time
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const typed = typeof value === 'string' && spec.type !== 'string' ? coerceParam(value, spec.type) : { ok: true as const, value };
  const matches = typed.ok && (spec.type === 'string' ? typeof value === 'string' : spec.type === 'boolean' ? typeof typed.value === 'boolean' : typeof typed.value === 'number' && (spec.type === 'number' || Number.isInteger(typed.value)));
  if (!matches) return `param takes ${spec.type === 'integer' ? 'a whole number' : spec.type === 'boolean' ? 'true or false' : `a ${spec.type}`}, not ${text}`;
  if (spec.enum && !spec.enum.includes(value as never)) return `${text} is not one of ${oneOf(spec.enum)}`;
  return undefined;
}
