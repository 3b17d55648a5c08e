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
const NUMBER = /[+-]?(?:Infinity|0[xX][0-9a-fA-F]+|0[oO][0-7]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)/y;
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
    if (punctuator === undefined) throw syntaxError(`unexpected '${ch}'`, pos, HINTS[ch] ?? '');
    tokens.push({ kind: 'punctuator', text: punctuator, offset: pos });
    pos += punctuator.length;
  }
  tokens.push({ kind: 'end', text: '', offset: src.length });
  return tokens;
}

/**
 * `.5` is a number but `a.5` is a property access gone wrong, and `-1` is a number (there is no
 * minus operator), so the token before decides.
 */
function startsNumber(src: string, pos: number, previous: Token | undefined): boolean {
  const ch = src[pos] ?? '';
  const next = src[pos + 1] ?? '';
  if (/\d/.test(ch)) return true;
  const afterOperand = previous !== undefined && (previous.kind !== 'punctuator' || [')', ']', '*'].includes(previous.text));
  if (ch === '.') return /\d/.test(next) && !afterOperand;
  if (ch === '-' || ch === '+') {
    return /\d/.test(next) || (next === '.' && /\d/.test(src[pos + 2] ?? '')) || src.startsWith('Infinity', pos + 1);
  }
  return false;
}

function readNumber(src: string, pos: number): Token {
  NUMBER.lastIndex = pos;
  const text = NUMBER.exec(src)?.[0] ?? '';
  const end = pos + text.length;
  if (text === '' || /[A-Za-z0-9_]/.test(src[end] ?? '')) {
    const bad = /^[+-]?[A-Za-z0-9_.]*/.exec(src.slice(pos))?.[0] ?? src.slice(pos, end + 1);
    throw syntaxError(`invalid number '${bad}'`, pos);
  }
  const negative = text.startsWith('-');
  const body = /^[+-]/.test(text) ? text.slice(1) : text;
  let value: number;
  if (/^0[xX]/.test(body)) value = Number.parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) value = Number.parseInt(body.slice(2), 8);
  else value = Number(body);
  return { kind: 'number', value: negative ? -value : value, text, offset: pos };
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
