/**
 * Expression errors that remember their parts, so an error found inside `${{ … }}` can be
 * re-based onto the whole template or `if:` string without parsing its message.
 */
import { ExpressionError } from '../../core/errors.ts';

/** Longest expression accepted; guards the parser against pathological input. */
export const MAX_EXPRESSION_LENGTH = 20_000;
/** Deepest nesting accepted (parentheses, `!`, accesses, calls); keeps recursion bounded. */
export const MAX_DEPTH = 100;

/**
 * An ExpressionError whose message is `reason` (plus ` at column N` for syntax errors, N being
 * 1-based) and `suffix`. Callers see it as a plain ExpressionError (same name and code).
 */
export class PositionedExpressionError extends ExpressionError {
  readonly reason: string;
  readonly suffix: string;
  readonly showColumn: boolean;
  constructor(reason: string, offset: number, showColumn: boolean, suffix = '') {
    super(showColumn ? `${reason} at column ${offset + 1}${suffix}` : `${reason}${suffix}`, offset);
    this.name = 'ExpressionError';
    this.reason = reason;
    this.suffix = suffix;
    this.showColumn = showColumn;
  }
}

/** A problem in the text itself, reported with its column. */
export function syntaxError(reason: string, offset: number, suffix = ''): PositionedExpressionError {
  return new PositionedExpressionError(reason, offset, true, suffix);
}

/** A problem with names, arguments or values; the offset still points at the culprit. */
export function semanticError(reason: string, offset: number): PositionedExpressionError {
  return new PositionedExpressionError(reason, offset, false);
}

/** Moves an error found in a sub-string by `delta` so its offset (and column) fit the whole string. */
export function shiftError(error: unknown, delta: number): unknown {
  if (delta === 0) return error;
  if (error instanceof PositionedExpressionError) {
    return new PositionedExpressionError(error.reason, error.offset + delta, error.showColumn, error.suffix);
  }
  if (error instanceof ExpressionError) return new ExpressionError(error.message, error.offset + delta);
  return error;
}
