/**
 * The `${{ }}` expression language (GitHub Actions style): parse, evaluate, interpolate, and
 * `if:` conditions. Pure: no I/O, no clock; hashFiles is delegated to the caller. Every
 * evaluation runs under the limits of limits.ts.
 */
export { childrenOf, type Expr } from './ast.ts';
export { parseExpression, type ParseOptions } from './parser.ts';
export { splitTemplate, hasExpression, interpolate, type TemplatePart } from './template.ts';
export { evaluate, type ExpressionContext } from './evaluate.ts';
export { evaluateCondition, conditionRunsAfterFailure, parseCondition } from './condition.ts';
export { toDisplayString } from './coerce.ts';
export { MAX_DEPTH, MAX_EXPRESSION_LENGTH, MAX_RESULT_LENGTH, MAX_WORK, type EvaluationLimits } from './limits.ts';
