/**
 * Recursive-descent parser for expressions, with GitHub's precedence (loosest first):
 * `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.` `[]` access and calls.
 *
 * Nesting is bounded twice: the parser's own recursion (parentheses, `!`, brackets, call
 * arguments) and the height of the tree it builds (access chains and comparisons are built
 * in loops, not by recursion). Both stop at MAX_DEPTH, so neither the parser nor anything
 * walking the tree afterwards can overflow the stack.
 */
import { MAX_DEPTH, type CompareOp, type Expr, type ExprError } from './ast.js';
import { lex, type Token, type TokenType } from './lexer.js';

export type ParseResult = { ok: true; ast: Expr } | { ok: false; error: ExprError };

/** Internal signal: a syntax error unwinds to `parseExpression`, which returns it as a value. */
class ParseFailure extends Error {
  constructor(readonly error: ExprError) {
    super(error.message);
  }
}

export function parseExpression(src: string): ParseResult {
  const lexed = lex(src);
  if (!lexed.ok) return lexed;
  try {
    return { ok: true, ast: new Parser(lexed.tokens).parse() };
  } catch (e) {
    if (e instanceof ParseFailure) return { ok: false, error: e.error };
    throw e;
  }
}

const COMPARISONS: ReadonlySet<TokenType> = new Set(['<', '<=', '>', '>=']);
const EQUALITIES: ReadonlySet<TokenType> = new Set(['==', '!=']);

const DEPTH_HINT = 'split the expression into smaller parts';

class Parser {
  private pos = 0;
  private depth = 0;
  /** Height of every node built so far; leaves are 0. */
  private readonly heights = new WeakMap<Expr, number>();
  /** The span of a parenthesized expression including its parentheses, for its parent's span. */
  private readonly grouped = new WeakMap<Expr, { start: number; end: number }>();

  constructor(private readonly tokens: Token[]) {}

  parse(): Expr {
    if (this.peek().type === 'eof')
      this.fail(this.peek(), 'expected an expression', 'write an expression between ${{ and }}');
    const ast = this.or();
    const rest = this.peek();
    if (rest.type !== 'eof') this.fail(rest, `unexpected ${describe(rest)}`, hintAfterExpression(rest));
    return ast;
  }

  private or(): Expr {
    return this.logical('||', () => this.and());
  }

  private and(): Expr {
    return this.logical('&&', () => this.equality());
  }

  private logical(op: '&&' | '||', operand: () => Expr): Expr {
    const first = operand();
    if (this.peek().type !== op) return first;
    const operands = [first];
    while (this.accept(op)) operands.push(operand());
    return this.build(
      { kind: 'logical', op, operands, ...this.span(first, operands[operands.length - 1] ?? first) },
      operands,
    );
  }

  private equality(): Expr {
    return this.binary(EQUALITIES, () => this.comparison());
  }

  private comparison(): Expr {
    return this.binary(COMPARISONS, () => this.unary());
  }

  private binary(ops: ReadonlySet<TokenType>, operand: () => Expr): Expr {
    let left = operand();
    while (ops.has(this.peek().type)) {
      const op = this.next().type as CompareOp;
      const right = operand();
      left = this.build({ kind: 'compare', op, left, right, ...this.span(left, right) }, [left, right]);
    }
    return left;
  }

  private unary(): Expr {
    const bang = this.peek();
    if (bang.type !== '!') return this.postfix();
    this.next();
    const operand = this.nested(bang, () => this.unary());
    return this.build({ kind: 'not', operand, offset: bang.offset, length: this.end(operand) - bang.offset }, [
      operand,
    ]);
  }

  /** Access chains: `.name`, `.*`, `[expr]`, `[*]` — only after a context, a call or parentheses, as in GitHub. */
  private postfix(): Expr {
    const start = this.peek();
    let expr = this.primary();
    if (start.type !== 'identifier' && start.type !== '(') return expr;
    for (;;) {
      if (this.accept('.')) expr = this.afterDot(expr);
      else if (this.peek().type === '[') expr = this.bracket(expr);
      else return expr;
    }
  }

  private afterDot(object: Expr): Expr {
    const tok = this.next();
    if (tok.type === '*') {
      return this.build({ kind: 'filter', object, starOffset: tok.offset, ...this.span(object, tok) }, [object]);
    }
    if (tok.type !== 'identifier') this.fail(tok, `expected a property name after '.', found ${describe(tok)}`);
    return this.build({ kind: 'property', object, name: tok.text, nameOffset: tok.offset, ...this.span(object, tok) }, [
      object,
    ]);
  }

  private bracket(object: Expr): Expr {
    const open = this.next();
    const star = this.peek();
    if (star.type === '*' && this.tokens[this.pos + 1]?.type === ']') {
      this.next();
      const close = this.next();
      return this.build({ kind: 'filter', object, starOffset: star.offset, ...this.span(object, close) }, [object]);
    }
    const index = this.nested(open, () => this.or());
    const close = this.expect(']', "close the index with ']'");
    return this.build({ kind: 'index', object, index, ...this.span(object, close) }, [object, index]);
  }

  private primary(): Expr {
    const tok = this.next();
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- no other token starts an operand; the default names the one found
    switch (tok.type) {
      case 'number':
      case 'string':
        return { kind: 'literal', value: tok.value ?? null, offset: tok.offset, length: tok.length };
      case 'true':
      case 'false':
        return { kind: 'literal', value: tok.type === 'true', offset: tok.offset, length: tok.length };
      case 'null':
        return { kind: 'literal', value: null, offset: tok.offset, length: tok.length };
      case 'identifier':
        return this.peek().type === '('
          ? this.call(tok)
          : { kind: 'context', name: tok.text, offset: tok.offset, length: tok.length };
      case '(':
        return this.group(tok);
      case 'eof':
        return this.fail(tok, 'unexpected end of expression', 'the expression is incomplete');
      default:
        return this.fail(tok, `unexpected ${describe(tok)}`);
    }
  }

  /** Parentheses only group; they leave no node, and the inner expression keeps its own span. */
  private group(open: Token): Expr {
    const inner = this.nested(open, () => this.or());
    const close = this.expect(')', "close the parenthesis with ')'");
    this.grouped.set(inner, { start: open.offset, end: close.offset + close.length });
    return inner;
  }

  private call(name: Token): Expr {
    this.next();
    const args: Expr[] = [];
    if (this.peek().type !== ')') {
      do args.push(this.nested(name, () => this.or()));
      while (this.accept(','));
    }
    const close = this.expect(')', `close the call of ${name.text}() with ')'`);
    return this.build(
      {
        kind: 'call',
        name: name.text,
        nameOffset: name.offset,
        args,
        offset: name.offset,
        length: close.offset + close.length - name.offset,
      },
      args,
    );
  }

  /** Runs a nested parse one level deeper (opened by `at`), refusing to go past MAX_DEPTH. */
  private nested(at: Token, parse: () => Expr): Expr {
    if (++this.depth > MAX_DEPTH) this.fail(at, `expression is nested deeper than ${MAX_DEPTH} levels`, DEPTH_HINT);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  /** Records the node's height and refuses trees taller than MAX_DEPTH. */
  private build<T extends Expr>(node: T, kids: Expr[]): T {
    const height = 1 + kids.reduce((max, k) => Math.max(max, this.heights.get(k) ?? 0), 0);
    if (height > MAX_DEPTH) {
      throw new ParseFailure({
        message: `expression is nested deeper than ${MAX_DEPTH} levels`,
        offset: node.offset,
        length: Math.max(1, node.length),
        hint: DEPTH_HINT,
      });
    }
    this.heights.set(node, height);
    return node;
  }

  /** From the start of `first` to the end of `last`, parentheses around either included. */
  private span(first: Expr, last: Expr | Token): { offset: number; length: number } {
    const start = this.grouped.get(first)?.start ?? first.offset;
    return { offset: start, length: this.end(last) - start };
  }

  private end(node: Expr | Token): number {
    if ('kind' in node) return this.grouped.get(node)?.end ?? node.offset + node.length;
    return node.offset + node.length;
  }

  private peek(): Token {
    // The lexer always ends with an eof token, and `next` never moves past it.
    return this.tokens[this.pos] as Token;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.type !== 'eof') this.pos++;
    return tok;
  }

  private accept(type: TokenType): boolean {
    if (this.peek().type !== type) return false;
    this.pos++;
    return true;
  }

  private expect(type: TokenType, hint: string): Token {
    const tok = this.peek();
    if (tok.type !== type) this.fail(tok, `expected '${type}', found ${describe(tok)}`, hint);
    return this.next();
  }

  private fail(tok: Token, message: string, hint?: string): never {
    const error: ExprError = { message, offset: tok.offset, length: Math.max(1, tok.length) };
    if (hint !== undefined) error.hint = hint;
    throw new ParseFailure(error);
  }
}

function describe(tok: Token): string {
  if (tok.type === 'eof') return 'end of expression';
  if (tok.type === 'identifier') return `name '${tok.text}'`;
  if (tok.type === 'string') return `string ${tok.text}`;
  if (tok.type === 'number') return `number ${tok.text}`;
  return `'${tok.text}'`;
}

function hintAfterExpression(tok: Token): string | undefined {
  if (tok.type === '.' || tok.type === '[')
    return 'properties can only be read from a context, a function call or a parenthesized expression';
  if (tok.type === '(') return 'only function names can be called';
  return 'join expressions with an operator such as && or ||';
}
