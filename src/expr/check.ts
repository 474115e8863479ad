/**
 * Static checking of expressions for `factory validate`: unknown contexts and functions,
 * arity, undeclared params, stages that do not exist or are not upstream, loops that do not
 * enclose the expression, and the fixed shapes of `loop`, `loops.<id>`, `run` and `budget`. Every error underlines the offending name.
 *
 * Names are matched without case, as the evaluator reads them, so whatever passes here
 * resolves at run time.
 */
import { children, type CallNode, type ContextNode, type Expr, type ExprError } from './ast.js';
import { CONTEXT_NAMES } from './evaluate.js';
import { arityError, FUNCTIONS, lookupFunction } from './functions.js';
import { suggestionSuffix } from './suggest.js';
import { parseTemplate, shiftError } from './template.js';

export interface StaticEnv {
  /** Contexts allowed here, e.g. params, stages, loop, env, run, budget. */
  contexts: ReadonlySet<string>;
  /** Declared params. */
  params: ReadonlySet<string>;
  /** Stages this expression may read (`visible`), all stage ids (`all`), and a loop body's stages when inside one. */
  stages: { visible: ReadonlySet<string>; all: ReadonlySet<string>; loopBody?: ReadonlySet<string> };
  /** success()/failure()/always()/cancelled() are allowed (only in `if` and `until`). */
  statusFunctions: boolean;
  /** How to name a stage in messages, e.g. 'stage "x"'. */
  describe(stageId: string): string;
  /** The stage whose definition holds the expression, when there is one: it cannot read itself. */
  self?: string;
  /** Inside a loop body: the ids of the loops enclosing the expression, outermost first (`loops.<id>`). */
  loops?: readonly string[];
  /** Inside a stage with `matrix` (and its body): the keys `matrix.<key>` may read. */
  matrixKeys?: ReadonlySet<string>;
}

const RUN_FIELDS = ['id', 'dir'];
const BUDGET_FIELDS = ['spent_usd', 'spent_tokens', 'remaining_usd', 'remaining_tokens'];
const LOOP_FIELDS = ['iteration', 'previous'];
const LOOPS_FIELDS = ['iteration'];
const STAGE_FIELDS = ['outputs', 'status'];
const EACH_FIELDS = ['item', 'index'];
const INSTANCE_FIELDS = ['index', 'matrix', 'item', 'status', 'outputs'];
/** Where a context that exists only in some places is available, for "not available here". */
const ONLY_IN: Readonly<Record<string, string>> = {
  loop: 'it exists only inside a loop body and its until',
  loops: 'it exists only inside a loop body and its until',
  matrix: 'it exists only in a stage with `matrix` and its body',
  each: 'it exists only in a stage with `for_each` and its body',
  instance: 'it exists only in `join.pick`',
};

/** One step of an access chain: a name known statically, `*`, or an index computed at run time. */
type Segment =
  { kind: 'name'; name: string; offset: number; length: number } | { kind: 'star' } | { kind: 'dynamic'; index: Expr };

/** Checks a parsed expression; offsets are those of the AST (relative to the expression source). */
export function checkExpression(ast: Expr, env: StaticEnv): ExprError[] {
  const errors: ExprError[] = [];
  new Checker(env, errors).walk(ast);
  return errors;
}

/** Parses and checks every `${{ }}` of a string; offsets are into the whole string. */
export function checkTemplate(text: string, env: StaticEnv): ExprError[] {
  const parsed = parseTemplate(text);
  if (!parsed.ok) return [parsed.error];
  return parsed.parts.flatMap((part) =>
    part.kind === 'expr' ? checkExpression(part.ast, env).map((e) => shiftError(e, part.sourceOffset)) : [],
  );
}

/** `params.x.y` → root `params`, segments [x, y]. Walks the chain in a loop, not by recursion. */
function flatten(node: Expr): { root: Expr; segments: Segment[] } {
  const segments: Segment[] = [];
  let current = node;
  for (;;) {
    if (current.kind === 'property') {
      segments.unshift({ kind: 'name', name: current.name, offset: current.nameOffset, length: current.name.length });
    } else if (current.kind === 'filter') {
      segments.unshift({ kind: 'star' });
    } else if (current.kind === 'index') {
      segments.unshift(indexSegment(current.index));
    } else {
      return { root: current, segments };
    }
    current = current.object;
  }
}

/** `x['name']` and `x[0]` are as static as `x.name`; any other index is known only at run time. */
function indexSegment(index: Expr): Segment {
  if (index.kind === 'literal' && (typeof index.value === 'string' || typeof index.value === 'number')) {
    return { kind: 'name', name: String(index.value), offset: index.offset, length: index.length };
  }
  return { kind: 'dynamic', index };
}

/** A context or a chain of `.`, `[]` and `*` on something. */
function isAccess(node: Expr): boolean {
  return node.kind === 'context' || node.kind === 'property' || node.kind === 'index' || node.kind === 'filter';
}

/** The member of `set` equal to `name` ignoring case. */
function findName(set: Iterable<string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const candidate of set) if (candidate.toLowerCase() === lower) return candidate;
  return undefined;
}

function list(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? '(none)' : all.join(', ');
}

class Checker {
  constructor(
    private readonly env: StaticEnv,
    private readonly errors: ExprError[],
  ) {}

  walk(node: Expr): void {
    if (isAccess(node)) {
      this.chain(node);
      return;
    }
    if (node.kind === 'call') this.call(node);
    for (const child of children(node)) this.walk(child);
  }

  private chain(node: Expr): void {
    const { root, segments } = flatten(node);
    if (root.kind === 'context') this.context(root, segments);
    else this.walk(root);
    for (const seg of segments) if (seg.kind === 'dynamic') this.walk(seg.index);
  }

  private call(node: CallNode): void {
    const at = { offset: node.nameOffset, length: node.name.length };
    const f = lookupFunction(node.name);
    if (f === undefined) {
      const names = FUNCTIONS.map((fn) => fn.name);
      this.report(
        at,
        `unknown function "${node.name}"${suggestionSuffix(node.name, names)}`,
        `functions: ${list(names)}`,
      );
      return;
    }
    if (f.status && !this.env.statusFunctions) {
      this.report(
        at,
        `${f.name}() can only be used in "if" and "until"`,
        'status functions describe the needs of a stage; use them in its if:',
      );
      return;
    }
    const arity = arityError(f, node.args.length);
    if (arity !== null) this.report(at, arity);
  }

  private context(root: ContextNode, segments: Segment[]): void {
    const name = findName(this.env.contexts, root.name);
    if (name === undefined) {
      this.unknownContext(root);
      return;
    }
    const first = segments[0]?.kind === 'name' ? segments[0] : undefined;
    switch (name.toLowerCase()) {
      case 'params':
        if (first) this.param(first);
        return;
      case 'stages':
        if (first) this.stage(first, segments[1]);
        return;
      case 'loop':
        this.loop(root, first, segments);
        return;
      case 'loops':
        this.loops(root, first, segments[1]);
        return;
      case 'run':
        if (first) this.field('run', first, RUN_FIELDS);
        return;
      case 'budget':
        if (first) this.field('budget', first, BUDGET_FIELDS);
        return;
      case 'matrix':
        if (first && this.env.matrixKeys) this.field('matrix', first, [...this.env.matrixKeys]);
        return;
      case 'each':
        if (first) this.field('each', first, EACH_FIELDS);
        return;
      case 'instance':
        if (first) this.field('instance', first, INSTANCE_FIELDS);
        return;
    }
  }

  private unknownContext(root: ContextNode): void {
    const f = lookupFunction(root.name);
    if (f !== undefined) {
      this.report(root, `"${root.name}" is a function; call it as ${f.name}()`);
    } else if (CONTEXT_NAMES.includes(root.name.toLowerCase())) {
      const only = ONLY_IN[root.name.toLowerCase()];
      const why = only === undefined ? '' : `; ${only}`;
      this.report(
        root,
        `context "${root.name}" is not available here${why}`,
        `available here: ${list(this.env.contexts)}`,
      );
    } else {
      const message = `unknown context "${root.name}"${suggestionSuffix(root.name, this.env.contexts)}`;
      this.report(root, message, `available here: ${list(this.env.contexts)}`);
    }
  }

  private param(seg: NameSegment): void {
    if (findName(this.env.params, seg.name) !== undefined) return;
    const hint = this.env.params.size > 0 ? `declared params: ${list(this.env.params)}` : 'declare it under params:';
    this.report(seg, `param "${seg.name}" is not declared${suggestionSuffix(seg.name, this.env.params)}`, hint);
  }

  private stage(seg: NameSegment, next: Segment | undefined): void {
    const { visible, all } = this.env.stages;
    const id = findName(all, seg.name);
    if (id === undefined) {
      const message = `stage "${seg.name}" does not exist${suggestionSuffix(seg.name, visible.size > 0 ? visible : all)}`;
      this.report(seg, message, `stages readable here: ${list(visible)}`);
      return;
    }
    if (this.env.self !== undefined && id === this.env.self) {
      this.report(seg, `${this.env.describe(id)} cannot read its own outputs or status`, 'read what it needs from the stages it `needs`, or split it into two stages');
      return;
    }
    if (findName(visible, id) === undefined) {
      this.report(
        seg,
        `${this.env.describe(id)} is not upstream here; add "${id}" to needs to read it`,
        `add "${id}" to needs`,
      );
      return;
    }
    this.stageField(`stages.${id}`, next);
  }

  /** After `stages.<id>` and `loop.previous.<id>` only `outputs` and `status` exist. */
  private stageField(prefix: string, seg: Segment | undefined): void {
    if (seg?.kind !== 'name' || findName(STAGE_FIELDS, seg.name) !== undefined) return;
    const message = `${prefix} has no "${seg.name}"${suggestionSuffix(seg.name, STAGE_FIELDS)}`;
    this.report(seg, message, `read ${prefix}.outputs.<name> or ${prefix}.status`);
  }

  private loop(root: ContextNode, first: NameSegment | undefined, segments: Segment[]): void {
    const body = this.env.stages.loopBody;
    if (body === undefined) {
      this.report(root, 'context "loop" is only available inside a loop body and its until');
      return;
    }
    if (!first) return;
    const field = findName(LOOP_FIELDS, first.name);
    if (field === undefined) {
      this.field('loop', first, LOOP_FIELDS);
    } else if (field === 'previous' && segments[1]?.kind === 'name') {
      this.previous(segments[1], body, segments[2]);
    }
  }

  /** `loops.<id>.iteration`: any loop enclosing the expression, by its id. */
  private loops(root: ContextNode, first: NameSegment | undefined, next: Segment | undefined): void {
    const enclosing = this.env.loops ?? [];
    if (enclosing.length === 0) {
      this.report(root, 'context "loops" is only available inside a loop body and its until');
      return;
    }
    if (!first) return;
    const id = findName(enclosing, first.name);
    if (id === undefined) {
      const message = `loop "${first.name}" does not enclose this expression${suggestionSuffix(first.name, enclosing)}`;
      this.report(first, message, `loops.<id> reads the loops around it: ${list(enclosing)}`);
      return;
    }
    if (next?.kind === 'name') this.field(`loops.${id}`, next, LOOPS_FIELDS);
  }

  private previous(seg: NameSegment, body: ReadonlySet<string>, next: Segment | undefined): void {
    const id = findName(body, seg.name);
    if (id === undefined) {
      const message = `stage "${seg.name}" is not in this loop's body${suggestionSuffix(seg.name, body)}`;
      this.report(seg, message, `loop.previous reads the loop's own stages: ${list(body)}`);
      return;
    }
    this.stageField(`loop.previous.${id}`, next);
  }

  /** Contexts with a fixed set of fields: `run`, `budget`, and `loop` itself. */
  private field(context: string, seg: NameSegment, fields: readonly string[]): void {
    if (findName(fields, seg.name) !== undefined) return;
    this.report(
      seg,
      `${context} has no "${seg.name}"${suggestionSuffix(seg.name, fields)}`,
      `${context} provides: ${list(fields)}`,
    );
  }

  private report(at: { offset: number; length: number }, message: string, hint?: string): void {
    const error: ExprError = { message, offset: at.offset, length: Math.max(1, at.length) };
    if (hint !== undefined) error.hint = hint;
    this.errors.push(error);
  }
}

type NameSegment = Extract<Segment, { kind: 'name' }>;

/** Stage ids an expression reads: through `stages.<id>`, and separately through `loop.previous.<id>`. */
export function referencedStages(ast: Expr): { stages: string[]; previous: string[] } {
  const stages = new Set<string>();
  const previous = new Set<string>();
  const pending: Expr[] = [ast];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (!isAccess(node)) {
      pending.push(...children(node).reverse());
      continue;
    }
    const { root, segments } = flatten(node);
    const [a, b] = segments;
    const context = root.kind === 'context' ? root.name.toLowerCase() : undefined;
    if (context === 'stages' && a?.kind === 'name') stages.add(a.name.toLowerCase());
    if (context === 'loop' && a?.kind === 'name' && a.name.toLowerCase() === 'previous' && b?.kind === 'name') {
      previous.add(b.name.toLowerCase());
    }
    for (const seg of [...segments].reverse()) if (seg.kind === 'dynamic') pending.push(seg.index);
    if (root.kind !== 'context') pending.push(root);
  }
  return { stages: [...stages], previous: [...previous] };
}
