/**
 * Turns expression text into tokens. The same lexer finds where a `${{ ... }}` ends inside
 * a longer string (see template.ts), so a `}}` inside a quoted string never ends it.
 */
import type { ExprError } from './ast.js';
import { parseNumberLiteral } from './coerce.js';

export type TokenType =
  | '('
  | ')'
  | '['
  | ']'
  | ','
  | '.'
  | '*'
  | '!'
  | '!='
  | '=='
  | '<'
  | '<='
  | '>'
  | '>='
  | '&&'
  | '||'
  | 'number'
  | 'string'
  | 'identifier'
  | 'true'
  | 'false'
  | 'null'
  | 'eof';

export interface Token {
  type: TokenType;
  offset: number;
  length: number;
  /** The decoded value of string and number literals. */
  value?: string | number;
  /** The text as written (identifiers keep their case). */
  text: string;
}

export type LexResult =
  | { ok: true; tokens: Token[]; /** offset of the closing `}}` when stopping at one */ end: number }
  | { ok: false; error: ExprError };

/** Internal signal: a lexing error unwinds to `lex`, which turns it into a value. */
class LexFailure extends Error {
  constructor(readonly error: ExprError) {
    super(error.message);
  }
}

const SINGLE: Record<string, TokenType> = { '(': '(', ')': ')', '[': '[', ']': ']', ',': ',', '*': '*' };

/** Characters that end a number or identifier; `}` is here so `${{ 1}}` ends cleanly. */
const BOUNDARY = /[\s()[\],.!<>=&|*{}'"]/;
const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_-]/;

const KEYWORDS: Record<string, TokenType> = { true: 'true', false: 'false', null: 'null' };

/**
 * Lexes `src` from `start`. With `stopAtClose`, lexing ends at the first `}}` outside a
 * string and `end` is its offset; reaching the end of `src` first is then an error the
 * caller reports (`end` is -1).
 */
export function lex(src: string, start = 0, stopAtClose = false): LexResult {
  const lexer = new Lexer(src, start, stopAtClose);
  try {
    return { ok: true, ...lexer.run() };
  } catch (e) {
    if (e instanceof LexFailure) return { ok: false, error: e.error };
    throw e;
  }
}

class Lexer {
  private pos: number;
  private readonly tokens: Token[] = [];

  constructor(
    private readonly src: string,
    start: number,
    private readonly stopAtClose: boolean,
  ) {
    this.pos = start;
  }

  run(): { tokens: Token[]; end: number } {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos] as string;
      if (c === '}' && this.stopAtClose && this.src[this.pos + 1] === '}') {
        return this.finish(this.pos);
      }
      this.next(c);
    }
    return this.finish(this.stopAtClose ? -1 : this.src.length);
  }

  private finish(end: number): { tokens: Token[]; end: number } {
    const at = end < 0 ? this.src.length : end;
    this.tokens.push({ type: 'eof', offset: at, length: 0, text: '' });
    return { tokens: this.tokens, end };
  }

  private next(c: string): void {
    if (/\s/.test(c)) {
      this.pos++;
    } else if (SINGLE[c] !== undefined) {
      this.push(SINGLE[c], 1);
    } else if (c === '.') {
      // A dot starts a number (`.5`) only where a value is expected and a digit follows.
      if (this.afterAccessible() || !/[0-9]/.test(this.src[this.pos + 1] ?? '')) this.push('.', 1);
      else this.number();
    } else if (c === '-' || c === '+' || (c >= '0' && c <= '9')) {
      this.number();
    } else if (c === "'" || c === '"') {
      this.string(c);
    } else if (IDENT_START.test(c)) {
      this.identifier();
    } else {
      this.operator(c);
    }
  }

  private operator(c: string): void {
    const two = this.src.slice(this.pos, this.pos + 2);
    if (two === '==' || two === '!=' || two === '<=' || two === '>=' || two === '&&' || two === '||') {
      if (two === '==' && this.src[this.pos + 2] === '=')
        this.fail(this.pos + 2, 1, "unexpected '='", "use '==' to compare (there is no '===')");
      if (two === '!=' && this.src[this.pos + 2] === '=')
        this.fail(this.pos + 2, 1, "unexpected '='", "use '!=' (there is no '!==')");
      this.push(two, 2);
      return;
    }
    if (c === '!' || c === '<' || c === '>') {
      this.push(c, 1);
      return;
    }
    this.fail(this.pos, 1, `unexpected character '${c}'`, OPERATOR_HINTS[c]);
  }

  private afterAccessible(): boolean {
    const prev = this.tokens[this.tokens.length - 1]?.type;
    return prev === 'identifier' || prev === ']' || prev === ')' || prev === '*';
  }

  private number(): void {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos] as string;
      if (BOUNDARY.test(c) && c !== '.') break;
      this.pos++;
    }
    const text = this.src.slice(start, this.pos);
    const value = parseNumberLiteral(text);
    if (Number.isNaN(value)) {
      const hint = text === '-' || text === '+' ? 'there is no arithmetic in expressions' : undefined;
      this.fail(start, text.length, `'${text}' is not a valid number`, hint);
    }
    this.tokens.push({ type: 'number', offset: start, length: text.length, value, text });
  }

  /** A quoted string; the quote character doubled inside it stands for itself (`'it''s'`). */
  private string(quote: string): void {
    const start = this.pos;
    let value = '';
    this.pos++;
    for (;;) {
      const end = this.src.indexOf(quote, this.pos);
      if (end < 0) {
        this.fail(start, this.src.length - start, 'unterminated string', `close it with ${quote}`);
      }
      value += this.src.slice(this.pos, end);
      if (this.src[end + 1] === quote) {
        value += quote;
        this.pos = end + 2;
        continue;
      }
      this.pos = end + 1;
      break;
    }
    this.tokens.push({
      type: 'string',
      offset: start,
      length: this.pos - start,
      value,
      text: this.src.slice(start, this.pos),
    });
  }

  private identifier(): void {
    const start = this.pos;
    this.pos++;
    while (this.pos < this.src.length && IDENT_PART.test(this.src[this.pos] as string)) this.pos++;
    const text = this.src.slice(start, this.pos);
    // After a dot every word is a property name, so `a.null` reads the key "null".
    const afterDot = this.tokens[this.tokens.length - 1]?.type === '.';
    if (!afterDot && (text === 'NaN' || text === 'Infinity')) {
      this.tokens.push({
        type: 'number',
        offset: start,
        length: text.length,
        value: text === 'NaN' ? NaN : Infinity,
        text,
      });
      return;
    }
    const type = afterDot ? undefined : KEYWORDS[text];
    this.tokens.push({ type: type ?? 'identifier', offset: start, length: text.length, text });
  }

  private push(type: TokenType, length: number): void {
    this.tokens.push({ type, offset: this.pos, length, text: this.src.slice(this.pos, this.pos + length) });
    this.pos += length;
  }

  private fail(offset: number, length: number, message: string, hint?: string): never {
    const error: ExprError = { message, offset, length: Math.max(1, length) };
    if (hint !== undefined) error.hint = hint;
    throw new LexFailure(error);
  }
}

const OPERATOR_HINTS: Record<string, string> = {
  '=': "use '==' to compare",
  '&': "use '&&'",
  '|': "use '||'",
  '}': "a single '}' cannot appear here",
  $: 'expressions cannot be nested; write the inner expression directly',
};
