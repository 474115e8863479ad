/** The expression language `${{ expr }}`: parse, check statically, evaluate, render. */
export { MAX_DEPTH, children } from './ast.js';
export type {
  CallNode,
  CompareNode,
  CompareOp,
  ContextNode,
  Expr,
  ExprError,
  FilterNode,
  IndexNode,
  LiteralNode,
  LiteralValue,
  LogicalNode,
  NotNode,
  PropertyNode,
  Span,
} from './ast.js';
export { parseExpression } from './parser.js';
export type { ParseResult } from './parser.js';
export { parseTemplate, isSingleExpression, hasExpression, shiftError } from './template.js';
export type { ExprPart, TemplatePart, TemplateResult, TextPart } from './template.js';
export { compare, equals, formatNumber, isObject, toJson, toNumber, toText, truthy } from './coerce.js';
export type { Value, ValueObject } from './coerce.js';
export { FUNCTIONS, lookupFunction } from './functions.js';
export type { FunctionDef, StatusFunctions } from './functions.js';
export { CONTEXT_NAMES, evaluate, evaluateExpression, getProperty } from './evaluate.js';
export type { EvalContext, EvalResult } from './evaluate.js';
export { renderDeep, renderParts, renderValue } from './render.js';
export type { JsonPath, RenderDeepResult, RenderError, RenderResult } from './render.js';
export { checkExpression, checkTemplate, referencedStages } from './check.js';
export type { StaticEnv } from './check.js';
