/**
 * The limits that keep one evaluation cheap whatever a gantry.yaml says: expressions are evaluated
 * inside the server and the executor, so a few hundred characters must never cost hundreds of
 * megabytes or seconds. Length, depth and result size are GitHub's own (its runner refuses the
 * same expressions); the work budget is Gantry's, because a result can stay under 10 MiB while
 * an expression builds thousands of them.
 */
import { limitError } from './errors.ts';

/** Longest expression accepted, in characters (GitHub's MaxLength). */
export const MAX_EXPRESSION_LENGTH = 21_000;
/** Deepest tree accepted: a leaf is one level, each operator, access or call above it one more (GitHub's MaxDepth). */
export const MAX_DEPTH = 50;
/** Largest string or JSON text one evaluation may build, in characters (GitHub's 10 MB result size). */
export const MAX_RESULT_LENGTH = 10 * 1024 * 1024;
/**
 * Work one evaluation may do, in units: a node evaluated, an element visited, a character built,
 * compared or parsed. Three results of the largest size fit; a loop of them does not.
 */
export const MAX_WORK = 4 * MAX_RESULT_LENGTH;

/** The limits an evaluation runs under; tests pass smaller ones to reach them cheaply. */
export interface EvaluationLimits {
  maxResultLength: number;
  maxWork: number;
}

/** The limits every evaluation gets unless told otherwise. */
export const DEFAULT_LIMITS: EvaluationLimits = Object.freeze({ maxResultLength: MAX_RESULT_LENGTH, maxWork: MAX_WORK });

/**
 * The work and result size left to one evaluation. Sizes are checked before a string is built,
 * so going past a limit costs nothing more than the check.
 */
export class EvaluationBudget {
  private readonly limits: EvaluationLimits;
  private spent = 0;

  constructor(limits: EvaluationLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /** The largest string this evaluation may build. */
  get maxResultLength(): number {
    return this.limits.maxResultLength;
  }

  /** Charges `units` of work done for the node at `offset`; throws EXPRESSION_LIMIT once the budget is gone. */
  spend(units: number, offset: number): void {
    this.spent += units;
    if (this.spent > this.limits.maxWork) {
      throw limitError(`expression does too much work (more than ${this.limits.maxWork.toLocaleString('en-US')} steps)`, offset);
    }
  }

  /** Checks a string of `length` characters about to be built at `offset`, then charges building it. */
  produce(length: number, offset: number): void {
    this.checkResultLength(length, offset);
    this.spend(length, offset);
  }

  /** Throws EXPRESSION_LIMIT when a result of `length` characters would be too large; charges nothing. */
  checkResultLength(length: number, offset: number): void {
    if (length <= this.limits.maxResultLength) return;
    const limit = this.limits.maxResultLength.toLocaleString('en-US');
    throw limitError(`expression result is too large (${length.toLocaleString('en-US')} characters; the limit is ${limit})`, offset);
  }
}
