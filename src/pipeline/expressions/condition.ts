/**
 * `if:` conditions with GitHub's semantics: a condition that does not mention a status function
 * only runs when nothing failed (`success() && (expr)`), and may be written with or without `${{ }}`.
 */
import { someNode, type Expr } from './ast.ts';
import { truthy } from './coerce.ts';
import { semanticError, shiftError } from './errors.ts';
import { evaluate, type ExpressionContext } from './evaluate.ts';
import { STATUS_FUNCTIONS } from './functions.ts';
import { parseExpression } from './parser.ts';
import { hasExpression, splitTemplate } from './template.ts';

interface ConditionSource {
  source: string;
  /** Where `source` starts in the condition as written. */
  offset: number;
}

/**
 * Evaluates an `if:`. undefined/empty → success(). Error offsets are positions in `condition`.
 * Throws ExpressionError when it does not parse or mixes text with `${{ }}`.
 */
export function evaluateCondition(condition: string | undefined, ctx: ExpressionContext): boolean {
  const status = ctx.status ?? { failed: false, cancelled: false };
  const succeeded = !status.failed && !status.cancelled;
  const found = conditionSource(condition);
  if (found === undefined) return succeeded;
  try {
    const tree = parseExpression(found.source);
    if (!callsAny(tree, STATUS_FUNCTIONS) && !succeeded) return false;
    return truthy(evaluate(tree, ctx));
  } catch (error) {
    throw shiftError(error, found.offset);
  }
}

/** True when the condition calls always(), failure() or cancelled(), i.e. it may run after a failure or cancel. */
export function conditionRunsAfterFailure(condition: string | undefined): boolean {
  const parsed = parseCondition(condition);
  return parsed !== undefined && callsAny(parsed.tree, ['always', 'failure', 'cancelled']);
}

/**
 * A condition's tree and where its expression starts in the condition as written; undefined when
 * blank. Throws ExpressionError (offsets in `condition`) when it does not parse.
 */
export function parseCondition(condition: string | undefined): { tree: Expr; offset: number } | undefined {
  const found = conditionSource(condition);
  if (found === undefined) return undefined;
  try {
    return { tree: parseExpression(found.source), offset: found.offset };
  } catch (error) {
    throw shiftError(error, found.offset);
  }
}

function callsAny(tree: Expr, names: readonly string[]): boolean {
  return someNode(tree, (node) => node.kind === 'call' && names.includes(node.name));
}

/** The expression inside a condition, unwrapping one surrounding `${{ }}`; undefined when blank. */
function conditionSource(condition: string | undefined): ConditionSource | undefined {
  if (condition === undefined || condition.trim() === '') return undefined;
  if (!hasExpression(condition)) return { source: condition, offset: 0 };
  const parts = splitTemplate(condition);
  const expressions = parts.filter((part) => part.kind === 'expr');
  const onlyBlankText = parts.every((part) => part.kind === 'expr' || part.text.trim() === '');
  const [only] = expressions;
  if (expressions.length !== 1 || !onlyBlankText || only === undefined) {
    // GitHub would treat this as a (always truthy) string; refusing it avoids a silent footgun.
    throw semanticError(
      "an if: condition must be one expression: write it without '${{ }}', or wrap the whole condition in one '${{ }}'",
      0,
    );
  }
  return { source: only.source, offset: only.offset };
}
