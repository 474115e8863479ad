/**
 * Splits a string value into literal text and `${{ ... }}` segments. The end of a segment is
 * found by lexing, so a `}}` inside a quoted string (`${{ format('{{}}') }}`) does not end it.
 */
import type { Expr, ExprError } from './ast.js';
import { lex } from './lexer.js';
import { parseExpression } from './parser.js';

export interface TextPart {
  kind: 'text';
  value: string;
  /** Offset of the text in the whole string. */
  offset: number;
}

export interface ExprPart {
  kind: 'expr';
  /** The expression source between `${{` and `}}`, untrimmed. */
  source: string;
  /** Offset of `${{` in the whole string. */
  offset: number;
  /** Length of the whole `${{ ... }}`. */
  length: number;
  /** Offset of `source` in the whole string: add it to AST and error offsets. */
  sourceOffset: number;
  ast: Expr;
}

export type TemplatePart = TextPart | ExprPart;

/** Parsed template; error offsets are into the whole string. */
export type TemplateResult = { ok: true; parts: TemplatePart[] } | { ok: false; error: ExprError };

const OPEN = '${{';
const CLOSE_LENGTH = 2;

export function parseTemplate(text: string): TemplateResult {
  const parts: TemplatePart[] = [];
  let pos = 0;
  for (;;) {
    const open = text.indexOf(OPEN, pos);
    if (open < 0) break;
    if (open > pos) parts.push({ kind: 'text', value: text.slice(pos, open), offset: pos });
    const part = parseSegment(text, open);
    if (!part.ok) return part;
    parts.push(part.part);
    pos = part.part.offset + part.part.length;
  }
  if (pos < text.length) parts.push({ kind: 'text', value: text.slice(pos), offset: pos });
  return { ok: true, parts };
}

/** Parses the `${{ ... }}` starting at `open`. */
function parseSegment(text: string, open: number): { ok: true; part: ExprPart } | { ok: false; error: ExprError } {
  const sourceOffset = open + OPEN.length;
  const lexed = lex(text, sourceOffset, true);
  if (!lexed.ok) return lexed;
  if (lexed.end < 0) {
    return {
      ok: false,
      error: {
        message: "unterminated '${{'",
        offset: open,
        length: OPEN.length,
        hint: "close the expression with '}}'",
      },
    };
  }
  const source = text.slice(sourceOffset, lexed.end);
  const parsed = parseExpression(source);
  if (!parsed.ok) return { ok: false, error: shiftError(parsed.error, sourceOffset) };
  const length = lexed.end + CLOSE_LENGTH - open;
  return { ok: true, part: { kind: 'expr', source, offset: open, length, sourceOffset, ast: parsed.ast } };
}

/** True when the whole string is one `${{ }}` and nothing else, so its value keeps its type. */
export function isSingleExpression(text: string): boolean {
  const parsed = parseTemplate(text);
  return parsed.ok && parsed.parts.length === 1 && parsed.parts[0]?.kind === 'expr';
}

/** True when the string holds `${{` at all (whether or not it parses). */
export function hasExpression(text: string): boolean {
  return text.includes(OPEN);
}

/** Moves an error from expression-relative to string-relative offsets. */
export function shiftError(error: ExprError, by: number): ExprError {
  return { ...error, offset: error.offset + by };
}
