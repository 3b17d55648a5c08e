/**
 * A recursive-descent parser with GitHub's precedence, from loosest to tightest:
 * `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.`, `[ ]` and calls. Names, arities and literal
 * format strings are checked here so mistakes surface when gantry.yaml is compiled, not mid-run.
 */
import type { Value } from '../../core/types.ts';
import { CONTEXT_NAMES, type ComparisonOperator, type Expr } from './ast.ts';
import { didYouMean } from '../../core/did-you-mean.ts';
import { limitError, semanticError, syntaxError } from './errors.ts';
import { FUNCTION_NAMES, arityProblem, formatProblem, lookupFunction } from './functions.ts';
import { tokenize, type Token } from './lexer.ts';
import { MAX_DEPTH, MAX_EXPRESSION_LENGTH } from './limits.ts';

const KEYWORDS: Readonly<Record<string, Value>> = { true: true, false: false, null: null, NaN: Number.NaN, Infinity: Infinity };
/**
 * How deep the parser itself may recurse. Parentheses and argument lists recurse without adding
 * a level to the tree, so this only guards the stack; MAX_DEPTH is the language's limit.
 */
const MAX_RECURSION = 2 * MAX_DEPTH;

/** How to parse: which context names exist (gantry.yaml's by default; GitHub's own test cases bring theirs). */
export interface ParseOptions {
  contexts?: readonly string[];
}

/**
 * Parses one expression (the text between `${{` and `}}`, or a bare `if:` condition).
 * Throws ExpressionError with `offset` = 0-based position in `src` of the problem.
 */
export function parseExpression(src: string, options: ParseOptions = {}): Expr {
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw limitError(
      `expression is too long (${src.length.toLocaleString('en-US')} characters; the limit is ${MAX_EXPRESSION_LENGTH.toLocaleString('en-US')})`,
      MAX_EXPRESSION_LENGTH,
    );
  }
  return new Parser(tokenize(src), options.contexts ?? CONTEXT_NAMES).parseAll();
}

class Parser {
  private readonly tokens: Token[];
  private readonly contexts: readonly string[];
  private pos = 0;
  private depth = 0;
  /** Height of every node built so far: chains such as `a.b.c…` grow the tree without recursing here. */
  private readonly heights = new Map<Expr, number>();

  constructor(tokens: Token[], contexts: readonly string[]) {
    this.tokens = tokens;
    this.contexts = contexts;
  }

  parseAll(): Expr {
    if (this.peek().kind === 'end') throw syntaxError('expected an expression', this.peek().offset);
    const expr = this.parseOr();
    const rest = this.peek();
    if (rest.kind !== 'end') throw this.unexpected(rest, ', expected an operator or the end');
    return expr;
  }

  private parseOr(): Expr {
    this.enter();
    const expr = this.parseLogical('||', () => this.parseLogical('&&', () => this.parseEquality()));
    this.depth--;
    return expr;
  }

  private parseLogical(operator: '&&' | '||', operand: () => Expr): Expr {
    const first = operand();
    const operands = [first];
    while (this.isPunctuator(operator)) {
      this.pos++;
      operands.push(operand());
    }
    if (operands.length === 1) return first;
    return this.node({ kind: 'logical', operator, operands, offset: first.offset }, operands);
  }

  private parseEquality(): Expr {
    return this.parseComparisonLevel(['==', '!='], () => this.parseComparisonLevel(['<', '<=', '>', '>='], () => this.parseUnary()));
  }

  private parseComparisonLevel(operators: readonly ComparisonOperator[], operand: () => Expr): Expr {
    let left = operand();
    for (;;) {
      const token = this.peek();
      const operator = operators.find((op) => token.kind === 'punctuator' && token.text === op);
      if (operator === undefined) return left;
      this.pos++;
      const right = operand();
      left = this.node({ kind: 'compare', operator, left, right, offset: left.offset }, [left, right]);
    }
  }

  private parseUnary(): Expr {
    const token = this.peek();
    if (!this.isPunctuator('!')) return this.parsePostfix();
    this.pos++;
    this.enter();
    const operand = this.parseUnary();
    this.depth--;
    return this.node({ kind: 'not', operand, offset: token.offset }, [operand]);
  }

  private parsePostfix(): Expr {
    let expr = this.parsePrimary();
    for (;;) {
      if (this.isPunctuator('.')) {
        this.pos++;
        const name = this.next();
        if (name.kind === 'identifier') {
          expr = this.node({ kind: 'property', object: expr, name: name.text, offset: expr.offset }, [expr]);
        } else if (name.kind === 'punctuator' && name.text === '*') {
          expr = this.node({ kind: 'wildcard', object: expr, offset: expr.offset }, [expr]);
        } else {
          throw this.unexpected(name, ", expected a property name after '.'");
        }
      } else if (this.isPunctuator('[')) {
        this.pos++;
        const star = this.peek();
        if (star.kind === 'punctuator' && star.text === '*' && this.peek(1).text === ']') {
          this.pos += 2;
          expr = this.node({ kind: 'wildcard', object: expr, offset: expr.offset }, [expr]);
          continue;
        }
        const index = this.parseOr();
        this.expect(']');
        expr = this.node({ kind: 'index', object: expr, index, offset: expr.offset }, [expr, index]);
      } else {
        return expr;
      }
    }
  }

  private parsePrimary(): Expr {
    const token = this.next();
    switch (token.kind) {
      case 'number':
      case 'string':
        return this.node({ kind: 'literal', value: token.value, offset: token.offset }, []);
      case 'identifier':
        return this.parseName(token);
      case 'punctuator':
        if (token.text === '(') {
          const inner = this.parseOr();
          this.expect(')');
          return inner;
        }
        throw this.unexpected(token);
      case 'end':
        throw this.unexpected(token);
    }
  }

  private parseName(token: Token & { kind: 'identifier' }): Expr {
    if (this.isPunctuator('(')) return this.parseCall(token);
    if (Object.hasOwn(KEYWORDS, token.text))
      return this.node({ kind: 'literal', value: KEYWORDS[token.text] ?? null, offset: token.offset }, []);
    const lower = token.text.toLowerCase();
    const name = this.contexts.find((c) => c.toLowerCase() === lower);
    if (name !== undefined) return this.node({ kind: 'context', name, offset: token.offset }, []);
    const fn = lookupFunction(token.text);
    if (fn) throw semanticError(`'${token.text}' is a function: call it as ${fn.name}(…)`, token.offset);
    const hint = didYouMean(token.text, this.contexts) || ` (known contexts: ${this.contexts.join(', ')})`;
    throw semanticError(`unknown context '${token.text}'${hint}`, token.offset);
  }

  private parseCall(token: Token & { kind: 'identifier' }): Expr {
    const spec = lookupFunction(token.text);
    if (!spec) throw semanticError(`unknown function '${token.text}'${didYouMean(token.text, FUNCTION_NAMES)}`, token.offset);
    this.pos++; // '('
    this.enter();
    const args: Expr[] = [];
    if (!this.isPunctuator(')')) {
      for (;;) {
        args.push(this.parseOr());
        if (!this.isPunctuator(',')) break;
        this.pos++;
      }
    }
    this.expect(')');
    this.depth--;
    const problem = arityProblem(spec, args.length);
    if (problem !== undefined) throw semanticError(problem, token.offset);
    const template = args[0];
    if (spec.name === 'format' && template?.kind === 'literal' && typeof template.value === 'string') {
      const formatError = formatProblem(template.value, args.length - 1);
      if (formatError !== undefined) throw semanticError(formatError, template.offset);
    }
    return this.node({ kind: 'call', name: spec.name, args, offset: token.offset }, args);
  }

  private node(expr: Expr, children: readonly Expr[]): Expr {
    let height = 1;
    for (const child of children) height = Math.max(height, (this.heights.get(child) ?? 1) + 1);
    if (height > MAX_DEPTH) throw this.tooDeep();
    this.heights.set(expr, height);
    return expr;
  }

  private enter(): void {
    this.depth++;
    if (this.depth > MAX_RECURSION) throw this.tooDeep();
  }

  private tooDeep(): Error {
    const at = this.peek(-1).offset;
    return limitError(`expression is nested too deeply (the limit is ${MAX_DEPTH} levels)`, at, true);
  }

  private expect(text: ')' | ']'): void {
    const token = this.next();
    if (token.kind !== 'punctuator' || token.text !== text) throw this.unexpected(token, `, expected '${text}'`);
  }

  /** An end that comes too early is reported at the token it follows, as GitHub does ('1 <' points at '<'). */
  private unexpected(token: Token, suffix = ''): Error {
    if (token.kind !== 'end') return syntaxError(`unexpected '${token.text}'`, token.offset, suffix);
    const last = this.tokens.at(-2);
    if (last === undefined) return syntaxError('unexpected end of expression', token.offset, suffix);
    return syntaxError(`unexpected end of expression after '${last.text}'`, last.offset, suffix);
  }

  private isPunctuator(text: string): boolean {
    const token = this.peek();
    return token.kind === 'punctuator' && token.text === text;
  }

  private peek(ahead = 0): Token {
    const index = Math.max(0, Math.min(this.pos + ahead, this.tokens.length - 1));
    return this.tokens[index] ?? { kind: 'end', text: '', offset: 0 };
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.pos++;
    return token;
  }
}
