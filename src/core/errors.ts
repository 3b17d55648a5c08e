import { type ErrorCode, httpStatusOf } from './error-codes.ts';

/**
 * Typed errors with stable codes. The code must be in the catalogue (core/error-codes.ts), which
 * gives its HTTP status; the HTTP layer maps `httpStatus` once; the CLI prints `message` as one
 * line. A failed job is state, never one of these.
 */
export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatusOf(code);
    this.details = details;
  }
}

export class NotFoundError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('NOT_FOUND', message, details);
  }
}
export class ConflictError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('CONFLICT', message, details);
  }
}
export class InputError extends GantryError {
  constructor(message: string, details?: unknown) {
    super('INVALID_INPUT', message, details);
  }
}
export class UnauthorizedError extends GantryError {
  constructor(message = 'a valid API token is required (Authorization: Bearer <token>)') {
    super('UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends GantryError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** One problem in a config file, positioned for `FILE:LINE:COL: message`. Line and column are 1-based. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** A config file that failed validation; carries every problem found, not just the first. */
export class InvalidConfigError extends GantryError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super('INVALID_CONFIG', diagnostics.map(formatDiagnostic).join('\n'), diagnostics);
    this.diagnostics = diagnostics;
  }
}

/**
 * A `${{ }}` expression that does not parse or cannot be evaluated (`INVALID_EXPRESSION`), or that
 * went past one of the language's limits (`EXPRESSION_LIMIT`: length, nesting, result size, work).
 * `offset` is within the expression source.
 */
export class ExpressionError extends GantryError {
  readonly offset: number;
  constructor(message: string, offset = 0, code: 'INVALID_EXPRESSION' | 'EXPRESSION_LIMIT' = 'INVALID_EXPRESSION' satisfies ErrorCode) {
    super(code, message);
    this.offset = offset;
  }
}
