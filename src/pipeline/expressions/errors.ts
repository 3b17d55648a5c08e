/**
 * Expression errors that remember their parts, so an error found inside `${{ … }}` can be
 * re-based onto the whole template or `if:` string without parsing its message.
 */
import type { ErrorCode } from '../../core/error-codes.ts';
import { ExpressionError } from '../../core/errors.ts';

type ExpressionErrorCode = Extract<ErrorCode, 'INVALID_EXPRESSION' | 'EXPRESSION_LIMIT'>;

/**
 * An ExpressionError whose message is `reason` (plus ` at column N` for syntax errors, N being
 * 1-based) and `suffix`. Callers see it as a plain ExpressionError (same name and code).
 */
export class PositionedExpressionError extends ExpressionError {
  readonly reason: string;
  readonly suffix: string;
  readonly showColumn: boolean;
  constructor(reason: string, offset: number, showColumn: boolean, suffix = '', code: ExpressionErrorCode = 'INVALID_EXPRESSION') {
    super(showColumn ? `${reason} at column ${offset + 1}${suffix}` : `${reason}${suffix}`, offset, code);
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

/** An expression past one of the limits of limits.ts (code EXPRESSION_LIMIT); the offset points at where it went past. */
export function limitError(reason: string, offset: number, showColumn = false): PositionedExpressionError {
  return new PositionedExpressionError(reason, offset, showColumn, '', 'EXPRESSION_LIMIT' satisfies ErrorCode);
}

/** Moves an error found in a sub-string by `delta` so its offset (and column) fit the whole string. */
export function shiftError(error: unknown, delta: number): unknown {
  if (delta === 0) return error;
  if (error instanceof PositionedExpressionError) {
    return new PositionedExpressionError(error.reason, error.offset + delta, error.showColumn, error.suffix, codeOf(error));
  }
  if (error instanceof ExpressionError) return new ExpressionError(error.message, error.offset + delta, codeOf(error));
  return error;
}

function codeOf(error: ExpressionError): ExpressionErrorCode {
  return error.code === 'EXPRESSION_LIMIT' ? 'EXPRESSION_LIMIT' : 'INVALID_EXPRESSION';
}
