/**
 * Turns expression source into tokens. Kept apart from the parser so positions, number formats
 * and string escapes are decided in one place.
 */
import { syntaxError } from './errors.ts';

/** Operators and brackets. */
export type Punctuator = '(' | ')' | '[' | ']' | ',' | '.' | '!' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||' | '*';

/** One token; `text` is the exact source slice and `offset` where it starts. */
export type Token =
  | { readonly kind: 'number'; readonly value: number; readonly text: string; readonly offset: number }
  | { readonly kind: 'string'; readonly value: string; readonly text: string; readonly offset: number }
  | { readonly kind: 'identifier'; readonly text: string; readonly offset: number }
  | { readonly kind: 'punctuator'; readonly text: Punctuator; readonly offset: number }
  | { readonly kind: 'end'; readonly text: ''; readonly offset: number };

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_-]*/y;
/** Hex and octal take no sign: GitHub refuses `-0xFF` as an unknown symbol. */
const NUMBER = /(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|[+-]?(?:Infinity|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?))/y;
/** Where a run of characters GitHub reads as one symbol stops (whitespace, brackets, operators, the separator). */
const BOUNDARY = /[\s()[\],.!<>=&|]/;
const TWO_CHAR: readonly Punctuator[] = ['<=', '>=', '==', '!=', '&&', '||'];
const ONE_CHAR: readonly Punctuator[] = ['(', ')', '[', ']', ',', '.', '!', '<', '>', '*'];
/** Characters that are almost right, with the hint that fixes them. */
const HINTS: Readonly<Record<string, string>> = {
  '=': " (use '==' to compare)",
  '&': " (use '&&')",
  '|': " (use '||')",
  '"': ' (strings use single quotes)',
};

/** Splits `src` into tokens, ending with one `end` token. Throws ExpressionError on bad characters. */
export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < src.length) {
    const ch = src[pos] ?? '';
    if (/\s/.test(ch)) {
      pos++;
      continue;
    }
    if (ch === "'") {
      const token = readString(src, pos);
      tokens.push(token);
      pos += token.text.length;
      continue;
    }
    if (startsNumber(src, pos, tokens.at(-1))) {
      const token = readNumber(src, pos);
      tokens.push(token);
      pos += token.text.length;
      continue;
    }
    IDENTIFIER.lastIndex = pos;
    const identifier = IDENTIFIER.exec(src);
    if (identifier) {
      tokens.push({ kind: 'identifier', text: identifier[0], offset: pos });
      pos += identifier[0].length;
      continue;
    }
    const pair = src.slice(pos, pos + 2);
    const punctuator = TWO_CHAR.find((p) => p === pair) ?? ONE_CHAR.find((p) => p === ch);
    if (punctuator === undefined) throw unknownSymbol(src, pos, tokens.at(-1));
    tokens.push({ kind: 'punctuator', text: punctuator, offset: pos });
    pos += punctuator.length;
  }
  tokens.push({ kind: 'end', text: '', offset: src.length });
  return tokens;
}

/**
 * An error for a character no token starts with, naming the whole symbol it belongs to as GitHub
 * does (`b@r` in `foo.b@r`, `=2` in `1 =2`, a whole emoji rather than half of one), at the
 * symbol's start: a name or number written right before it belongs to it.
 */
function unknownSymbol(src: string, pos: number, previous: Token | undefined): Error {
  const glued = previous !== undefined && (previous.kind === 'identifier' || previous.kind === 'number');
  const start = glued && previous.offset + previous.text.length === pos ? previous.offset : pos;
  const symbol = symbolAt(src, start, pos + 1, false);
  return syntaxError(`unexpected '${symbol}'`, start, HINTS[src[pos] ?? ''] ?? '');
}

/** The symbol starting at `start`: at least up to `minEnd`, then up to a boundary (dots included when `throughDots`). */
function symbolAt(src: string, start: number, minEnd: number, throughDots: boolean): string {
  let end = Math.max(minEnd, start + 1);
  if (/[\uD800-\uDBFF]/.test(src[end - 1] ?? '')) end++;
  while (end < src.length) {
    const ch = src[end] ?? '';
    if (BOUNDARY.test(ch) && !(throughDots && ch === '.')) break;
    end++;
  }
  return src.slice(start, end);
}

/**
 * `.5` is a number but `a.5` is a property access gone wrong, and `-1` is a number (there is no
 * minus operator), so the token before decides. A dot that cannot be an access starts a number
 * (GitHub's rule), so `.github/x` is refused as one bad number rather than piece by piece.
 */
function startsNumber(src: string, pos: number, previous: Token | undefined): boolean {
  const ch = src[pos] ?? '';
  const next = src[pos + 1] ?? '';
  if (/\d/.test(ch)) return true;
  const afterOperand = previous !== undefined && (previous.kind !== 'punctuator' || [')', ']', '*'].includes(previous.text));
  if (ch === '.') return !afterOperand;
  if (ch === '-' || ch === '+') {
    return /\d/.test(next) || (next === '.' && /\d/.test(src[pos + 2] ?? '')) || src.startsWith('Infinity', pos + 1);
  }
  return false;
}

function readNumber(src: string, pos: number): Token {
  NUMBER.lastIndex = pos;
  const text = NUMBER.exec(src)?.[0] ?? '';
  const end = pos + text.length;
  if (text === '' || (end < src.length && !BOUNDARY.test(src[end] ?? ''))) {
    const symbol = symbolAt(src, pos, end, true);
    throw syntaxError(/^[+-]?\.?\d/.test(symbol) ? `invalid number '${symbol}'` : `unexpected '${symbol}'`, pos);
  }
  let value: number;
  if (/^0[xX]/.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^0[oO]/.test(text)) value = Number.parseInt(text.slice(2), 8);
  else value = Number(text);
  return { kind: 'number', value, text, offset: pos };
}

/** Single-quoted, with `''` standing for one quote (GitHub's only escape). */
function readString(src: string, start: number): Token {
  let value = '';
  let pos = start + 1;
  for (;;) {
    const quote = src.indexOf("'", pos);
    if (quote === -1) throw syntaxError('unterminated string', start, " (strings end with ')");
    value += src.slice(pos, quote);
    if (src[quote + 1] === "'") {
      value += "'";
      pos = quote + 2;
      continue;
    }
    return { kind: 'string', value, text: src.slice(start, quote + 1), offset: start };
  }
}
