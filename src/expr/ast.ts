/**
 * The syntax tree of one expression (the text between `${{` and `}}`).
 *
 * Every node carries `offset` and `length` within the expression source so that parse
 * errors, static-check errors and run-time errors can underline exactly what they mean.
 */

/** A problem with an expression, placed in the source it was parsed from. */
export interface ExprError {
  message: string;
  /** 0-based offset into the expression source (or the whole string, for templates). */
  offset: number;
  /** Length of the offending span; at least 1 when the span is known. */
  length: number;
  /** How to fix it, when we can say. */
  hint?: string;
}

/** Where a node sits in the expression source. */
export interface Span {
  offset: number;
  length: number;
}

export type LiteralValue = null | boolean | number | string;

export interface LiteralNode extends Span {
  kind: 'literal';
  value: LiteralValue;
}

/** A bare identifier not followed by `(`: one of the named contexts (`params`, `stages`, ...). */
export interface ContextNode extends Span {
  kind: 'context';
  name: string;
}

/** `object.name` — the name is kept with its own position for precise underlines. */
export interface PropertyNode extends Span {
  kind: 'property';
  object: Expr;
  name: string;
  nameOffset: number;
}

/** `object[index]` with any expression as the index. */
export interface IndexNode extends Span {
  kind: 'index';
  object: Expr;
  index: Expr;
}

/** `object.*` or `object[*]`: GitHub's filter, turning a map or list into a list of its values. */
export interface FilterNode extends Span {
  kind: 'filter';
  object: Expr;
  starOffset: number;
}

export interface CallNode extends Span {
  kind: 'call';
  /** As written; function names are matched case-insensitively. */
  name: string;
  nameOffset: number;
  args: Expr[];
}

export interface NotNode extends Span {
  kind: 'not';
  operand: Expr;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface CompareNode extends Span {
  kind: 'compare';
  op: CompareOp;
  left: Expr;
  right: Expr;
}

/**
 * `a && b && c` is one node with three operands (as in GitHub's parser), so a long chain
 * does not count as deep nesting.
 */
export interface LogicalNode extends Span {
  kind: 'logical';
  op: '&&' | '||';
  operands: Expr[];
}

export type Expr =
  LiteralNode | ContextNode | PropertyNode | IndexNode | FilterNode | CallNode | NotNode | CompareNode | LogicalNode;

/** Deepest nesting an expression may have; deeper is an error, never a stack overflow. */
export const MAX_DEPTH = 50;

/** The direct children of a node, in source order. */
export function children(node: Expr): Expr[] {
  switch (node.kind) {
    case 'literal':
    case 'context':
      return [];
    case 'property':
    case 'filter':
      return [node.object];
    case 'index':
      return [node.object, node.index];
    case 'call':
      return node.args;
    case 'not':
      return [node.operand];
    case 'compare':
      return [node.left, node.right];
    case 'logical':
      return node.operands;
  }
}
