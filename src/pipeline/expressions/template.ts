/**
 * Strings with `${{ … }}` parts: splitting them (for validation at compile time) and filling
 * them in (at run time). Error offsets are re-based onto the whole text.
 */
import { isContainer, toDisplayString } from './coerce.ts';
import { shiftError, syntaxError } from './errors.ts';
import { evaluateWithin, type ExpressionContext } from './evaluate.ts';
import { jsonTextLength } from './json-length.ts';
import { EvaluationBudget } from './limits.ts';
import { parseExpression } from './parser.ts';

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; source: string; offset: number /* offset of `source` inside the template text */ };

const OPEN = '${{';
const CLOSE = '}}';

/** Cheap test for whether a string needs interpolating at all. */
export function hasExpression(text: string): boolean {
  return text.includes(OPEN);
}

/**
 * Splits a string into literal text and `${{ … }}` sources. A `}}` inside a single-quoted string
 * literal does not close the expression. Throws ExpressionError (offset = the unclosed `${{`).
 */
export function splitTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let textStart = 0;
  let open = text.indexOf(OPEN);
  while (open !== -1) {
    const sourceStart = open + OPEN.length;
    const close = findClose(text, sourceStart);
    if (close === -1) throw syntaxError(`unclosed '${OPEN}'`, open, ` (missing '${CLOSE}')`);
    if (open > textStart) parts.push({ kind: 'text', text: text.slice(textStart, open) });
    parts.push({ kind: 'expr', source: text.slice(sourceStart, close), offset: sourceStart });
    textStart = close + CLOSE.length;
    open = text.indexOf(OPEN, textStart);
  }
  if (textStart < text.length) parts.push({ kind: 'text', text: text.slice(textStart) });
  return parts;
}

/** Position of the `}}` ending the expression that starts at `from`, skipping string literals; -1 if none. */
function findClose(text: string, from: number): number {
  let pos = from;
  while (pos < text.length) {
    const ch = text[pos];
    if (ch === "'") {
      pos = skipString(text, pos);
      if (pos === -1) return -1;
    } else if (ch === '}' && text[pos + 1] === '}') {
      return pos;
    } else {
      pos++;
    }
  }
  return -1;
}

function skipString(text: string, quote: number): number {
  let pos = quote + 1;
  for (;;) {
    const end = text.indexOf("'", pos);
    if (end === -1) return -1;
    if (text[end + 1] !== "'") return end + 1;
    pos = end + 2;
  }
}

/**
 * Replaces each `${{ }}` in text with the string form of its value (see toDisplayString).
 * Text without `${{` is returned as-is. Error offsets are positions in `text`.
 */
export function interpolate(text: string, ctx: ExpressionContext): string {
  if (!hasExpression(text)) return text;
  // One budget for the whole text: its parts are one result, bounded as one.
  const budget = new EvaluationBudget(ctx.limits);
  let out = '';
  for (const part of splitTemplate(text)) {
    if (part.kind === 'text') {
      out += part.text;
      continue;
    }
    try {
      const value = evaluateWithin(parseExpression(part.source), ctx, budget);
      const length = isContainer(value) ? jsonTextLength(value, 0, budget.maxResultLength) : toDisplayString(value).length;
      budget.checkResultLength(out.length + length, 0);
      budget.spend(length, 0);
      out += toDisplayString(value);
    } catch (error) {
      throw shiftError(error, part.offset);
    }
  }
  return out;
}
