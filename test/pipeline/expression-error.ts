/** The one way expression tests catch an expression's error. */
import { expect } from 'vitest';
import { ExpressionError } from '../../src/core/errors.ts';

/** Runs `fn` and returns the ExpressionError it throws (failing the test when it throws something else or nothing). */
export function expressionError(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return error as ExpressionError;
  }
  throw new Error('expected an ExpressionError');
}
