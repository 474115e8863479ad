import { checkExpression, parseExpression, parseTemplate, type StaticEnv } from '../../expr/index.js';
import type { ExprError } from '../../expr/index.js';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { locateInString, type LoadedFile, type PathSegment } from '../load/load.js';
import { LazySet } from '../lazy-set.js';
import type { RawScope, RawStage } from './scopes.js';
import { isRecord } from '../../base/is-record.js';
import { fanoutOf, matrixKeys } from '../fanout.js';

/** Keys whose value is a whole expression even without `${{ }}`, as `if:` is in GitHub Actions. */
const CONDITION_KEYS = new Set(['if', 'until']);
/** Keys that are never expressions: `run` is checked separately (expressions are refused there). */
const LITERAL_KEYS = new Set(['kind', 'needs', 'run', 'stages']);

const STAGE_CONTEXTS = ['params', 'stages', 'env', 'run', 'budget'];
/** Fan-out keys, checked with their own contexts (fanOutKeys). */
const FANOUT_KEYS = new Set(['matrix', 'for_each', 'join']);

/** What a fan-out adds to the expressions of a stage and its body: `matrix` (with its keys) or `each`. */
interface FanIn {
  contexts: readonly string[];
  matrixKeys?: ReadonlySet<string>;
}

interface Place {
  loaded: LoadedFile;
  all: ReadonlySet<string>;
  params: ReadonlySet<string>;
  diagnostics: Diagnostic[];
  /** Ids of the loops enclosing the scope being checked, outermost first: what `loops.<id>` may name. */
  loops: string[];
}


/** Every stage id of the pipeline, at any depth, for "exists but is not upstream" messages. */
function allIds(scope: RawScope, into = new Set<string>()): Set<string> {
  for (const s of scope.order) {
    into.add(s.id);
    if (s.body) allIds(s.body, into);
  }
  return into;
}

/** Checks every expression of the pipeline statically (docs/configuration.md), adding diagnostics. */
export function checkExpressions(loaded: LoadedFile, root: RawScope, params: ReadonlySet<string>): Diagnostic[] {
  const place: Place = { loaded, all: allIds(root), params, diagnostics: [], loops: [] };
  const config = isRecord(loaded.value) ? loaded.value : {};
  const topEnv = once(() => envFor(place, ['params', 'run'], new Set(), undefined, false));
  if (isRecord(config.env)) walk(place, config.env, ['env'], topEnv, topEnv);
  if (isRecord(config.outputs)) {
    const everyTop = new Set(root.order.map((s) => s.id));
    const outEnv = once(() => envFor(place, STAGE_CONTEXTS, everyTop, undefined, false));
    walk(place, config.outputs, ['outputs'], outEnv, outEnv);
  }
  checkScope(place, root, new Set(), undefined, undefined);
  return place.diagnostics;
}

function envFor(place: Place, contexts: string[], visible: ReadonlySet<string>, loopBody: ReadonlySet<string> | undefined, statusFunctions: boolean, self?: string, fan?: FanIn): StaticEnv {
  const all = [...contexts, ...(fan?.contexts ?? [])];
  const env: StaticEnv = {
    contexts: new Set(loopBody ? [...all, 'loop', 'loops'] : all),
    params: place.params,
    stages: loopBody ? { visible, all: place.all, loopBody } : { visible, all: place.all },
    statusFunctions,
    describe: (id: string) => `stage "${id}"`,
  };
  if (self !== undefined) env.self = self;
  if (loopBody) env.loops = [...place.loops];
  if (fan?.matrixKeys) env.matrixKeys = fan.matrixKeys;
  return env;
}

function checkScope(place: Place, scope: RawScope, enclosingVisible: ReadonlySet<string>, loopBody: ReadonlySet<string> | undefined, outerFan: FanIn | undefined): void {
  for (const stage of scope.order) {
    const visible = new LazySet(() => new Set([...enclosingVisible, ...stage.upstream]));
    // `if` and `for_each` are decided before the instances exist: they see the enclosing fan-out only.
    // Built on first use: most stages of a large pipeline hold no expression at all.
    const outside = once(() => envFor(place, STAGE_CONTEXTS, visible, loopBody, false, stage.id, outerFan));
    const fan = fanInOf(stage, outerFan);
    const plain = once(() => envFor(place, STAGE_CONTEXTS, visible, loopBody, false, stage.id, fan));
    const condition = once(() => envFor(place, STAGE_CONTEXTS, visible, loopBody, true, stage.id, outerFan));
    walk(place, stage.def, stage.yamlPath, plain, condition);
    fanOutKeys(place, stage, outside);
    if (stage.body) checkLoopBody(place, stage, visible, fan);
  }
}

/** A value computed on the first call, then kept. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function fanInOf(stage: RawStage, outer: FanIn | undefined): FanIn | undefined {
  const spec = fanoutOf(stage.def);
  if (!spec) return outer;
  const contexts = new Set(outer?.contexts ?? []);
  if (spec.matrix) {
    contexts.add('matrix');
    return { contexts: [...contexts], matrixKeys: new Set([...(outer?.matrixKeys ?? []), ...matrixKeys(spec.matrix)]) };
  }
  contexts.add('each');
  return outer?.matrixKeys ? { contexts: [...contexts], matrixKeys: outer.matrixKeys } : { contexts: [...contexts] };
}

/** A matrix list reads params only; `for_each` what the stage's `if` may read; `join.pick` that and `instance`. */
function fanOutKeys(place: Place, stage: RawStage, outside: () => StaticEnv): void {
  const { def, yamlPath } = stage;
  if (isRecord(def.matrix)) {
    const paramsOnly = once(() => envFor(place, ['params'], new Set(), undefined, false));
    walk(place, def.matrix, [...yamlPath, 'matrix'], paramsOnly, paramsOnly);
  }
  if (typeof def.for_each === 'string') checkString(place, def.for_each, [...yamlPath, 'for_each'], outside, false);
  if (isRecord(def.join) && typeof def.join.pick === 'string') {
    const env = () => ({ ...outside(), contexts: new Set([...outside().contexts, 'instance']) });
    checkString(place, def.join.pick, [...yamlPath, 'join', 'pick'], env, false);
  }
}

function checkLoopBody(place: Place, loop: RawStage, loopVisible: ReadonlySet<string>, fan: FanIn | undefined): void {
  const body = loop.body!;
  const bodyIds = new Set(body.order.map((s) => s.id));
  place.loops.push(loop.id);
  checkScope(place, body, loopVisible, bodyIds, fan);
  // `until` reads the body's stages and whatever a body stage may read.
  const until = loop.def.until;
  if (typeof until === 'string') {
    const env = () => envFor(place, STAGE_CONTEXTS, new LazySet(() => new Set([...loopVisible, ...bodyIds])), bodyIds, true, undefined, fan);
    checkString(place, until, [...loop.yamlPath, 'until'], env, true);
  }
  place.loops.pop();
}

function walk(place: Place, value: unknown, at: PathSegment[], plain: () => StaticEnv, condition: () => StaticEnv): void {
  if (typeof value === 'string') {
    checkString(place, value, at, plain, false);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' || (typeof item === 'string' && item.includes('${{'))) walk(place, item, [...at, i], plain, condition);
    }
  } else if (isRecord(value)) {
    const inStage = at[at.length - 2] === 'stages';
    for (const key in value) {
      const item = value[key];
      if (inStage && (LITERAL_KEYS.has(key) || FANOUT_KEYS.has(key))) continue;
      if (key === 'until' && inStage) continue; // checked with the loop body
      if (CONDITION_KEYS.has(key) && typeof item === 'string' && inStage) {
        checkString(place, item, [...at, key], condition, true);
      } else if (typeof item === 'object' || (typeof item === 'string' && item.includes('${{'))) {
        walk(place, item, [...at, key], plain, condition);
      }
    }
  }
}

function checkString(place: Place, text: string, at: PathSegment[], envOf: () => StaticEnv, bare: boolean): void {
  // Text without `${{` is plain text, unless the key takes a bare expression (`if:`).
  if (!bare && !text.includes('${{')) return;
  const env = envOf();
  const report = (error: ExprError) => {
    const pos = locateInString(place.loaded, at, text, error.offset, error.length);
    place.diagnostics.push(diagnostic(place.loaded.file, pos, 'expression', error.message, error.hint));
  };
  if (bare && !text.includes('${{')) {
    const parsed = parseExpression(text);
    if (!parsed.ok) return report(parsed.error);
    for (const e of checkExpression(parsed.ast, env)) report(e);
    return;
  }
  const parsed = parseTemplate(text);
  if (!parsed.ok) return report(parsed.error);
  for (const part of parsed.parts) {
    if (part.kind !== 'expr') continue;
    for (const e of checkExpression(part.ast, env)) report({ ...e, offset: e.offset + part.sourceOffset });
  }
}

/** `${{ }}` inside `run` is refused: values reach commands through `env:`, never spliced into shell text. */
export function checkRunHasNoExpressions(loaded: LoadedFile, scope: RawScope, out: Diagnostic[] = []): Diagnostic[] {
  const report = (stage: RawStage, text: string, at: PathSegment[]) => {
    const start = text.indexOf('${{');
    const end = text.indexOf('}}', start);
    const length = end === -1 ? 3 : end + 2 - start;
    out.push(diagnostic(loaded.file, locateInString(loaded, at, text, start, length), 'run-expression',
      `expressions are not allowed inside \`run\` of stage "${stage.path}"`,
      'pass the value through `env:` (e.g. `env: { VALUE: "${{ ... }}" }`) and read it as "$VALUE" in the command: a value spliced into shell text can inject commands'));
  };
  for (const stage of scope.order) {
    const run = stage.def.run;
    if (typeof run === 'string') {
      if (run.includes('${{')) report(stage, run, [...stage.yamlPath, 'run']);
    } else if (Array.isArray(run)) {
      for (let i = 0; i < run.length; i++) {
        const piece: unknown = run[i];
        if (typeof piece === 'string' && piece.includes('${{')) report(stage, piece, [...stage.yamlPath, 'run', i]);
      }
    }
    if (stage.body) checkRunHasNoExpressions(loaded, stage.body, out);
  }
  return out;
}
