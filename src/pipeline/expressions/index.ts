/**
 * The `${{ }}` expression language (GitHub Actions style): parse, evaluate, interpolate, and
 * `if:` conditions. Pure: no I/O, no clock; hashFiles is delegated to the caller.
 */
export type { Expr } from './ast.ts';
export { parseExpression } from './parser.ts';
export { splitTemplate, hasExpression, interpolate, type TemplatePart } from './template.ts';
export { evaluate, type ExpressionContext } from './evaluate.ts';
export { evaluateCondition, conditionRunsAfterFailure } from './condition.ts';
export { toDisplayString } from './coerce.ts';
