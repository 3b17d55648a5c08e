/**
 * The tree-walking evaluator. It reads contexts only through own-property lookups (so no
 * prototype is reachable), never throws on a missing property, and does no I/O: hashFiles is
 * delegated to the caller.
 */
import type { Value } from '../../core/types.ts';
import type { AccessExpr, Expr } from './ast.ts';
import { compareValues, foldCase, isContainer, looseEquals, toNumber, toStringValue, truthy } from './coerce.ts';
import { semanticError } from './errors.ts';
import { callFunction, type FunctionEnvironment } from './functions.ts';
import { EvaluationBudget, type EvaluationLimits } from './limits.ts';
import { parseExpression } from './parser.ts';

/** What an expression can see while it is evaluated. */
export interface ExpressionContext {
  /** env, matrix, steps, needs, inputs, secrets, gantry, job: missing ones behave as empty objects. */
  contexts: Record<string, Value>;
  /** For the status functions: has anything this job depends on (or an earlier step) failed; has the run been cancelled. Default both false. */
  status?: { failed: boolean; cancelled: boolean };
  /** hashFiles(...patterns) is delegated (the evaluator does no I/O); missing → ExpressionError when called. */
  hashFiles?: (patterns: string[]) => string;
  /** Result size and work allowed per evaluation; the defaults of limits.ts unless a test needs them smaller. */
  limits?: EvaluationLimits;
}

/** Names that would reach into JavaScript's object machinery rather than the user's data. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const EMPTY_CONTEXT: Value = Object.freeze({});

/**
 * Evaluates a parsed tree (or source text, parsed first) against the contexts. Values read from
 * contexts are returned as they are (not copied), so treat the result as read-only.
 */
export function evaluate(expr: Expr | string, ctx: ExpressionContext): Value {
  return evaluateWithin(expr, ctx, new EvaluationBudget(ctx.limits));
}

/** evaluate() charging an existing budget, so the parts of one template share one. */
export function evaluateWithin(expr: Expr | string, ctx: ExpressionContext, budget: EvaluationBudget): Value {
  const tree = typeof expr === 'string' ? parseExpression(expr) : expr;
  return evaluateNode(tree, ctx, { status: ctx.status ?? { failed: false, cancelled: false }, hashFiles: ctx.hashFiles, budget });
}

function evaluateNode(node: Expr, ctx: ExpressionContext, env: FunctionEnvironment): Value {
  env.budget.spend(1, node.offset);
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'context':
      return lookup(ctx.contexts, node.name) ?? EMPTY_CONTEXT;
    case 'property':
    case 'index':
    case 'wildcard': {
      const result = access(node, ctx, env);
      return result.filtered ? result.items : (result.value ?? null);
    }
    case 'not':
      return !truthy(evaluateNode(node.operand, ctx, env));
    case 'compare': {
      const left = evaluateNode(node.left, ctx, env);
      const right = evaluateNode(node.right, ctx, env);
      // Strings are compared through case-folded copies.
      if (typeof left === 'string' && typeof right === 'string') env.budget.spend(left.length + right.length, node.offset);
      return compare(node.operator, left, right);
    }
    case 'logical': {
      // Like JS (and GitHub), the result is the operand that decided, not a boolean.
      let value: Value = null;
      for (const operand of node.operands) {
        value = evaluateNode(operand, ctx, env);
        if (truthy(value) === (node.operator === '||')) return value;
      }
      return value;
    }
    case 'call':
      if (node.name === 'case') return evaluateCase(node.args, ctx, env);
      return callFunction(
        node.name,
        node.args.map((arg) => evaluateNode(arg, ctx, env)),
        env,
        node.offset,
      );
  }
}

/**
 * case(condition, value, …, default): like && and ||, only what decides is evaluated. A condition
 * must be a boolean (GitHub's rule), so `case(matrix.os, …)` fails rather than testing truthiness.
 */
function evaluateCase(args: readonly Expr[], ctx: ExpressionContext, env: FunctionEnvironment): Value {
  for (let i = 0; i + 1 < args.length; i += 2) {
    const condition = args[i] as Expr;
    const decided = evaluateNode(condition, ctx, env);
    if (typeof decided !== 'boolean') {
      throw semanticError(
        `case(): condition ${i / 2 + 1} must be true or false, got ${JSON.stringify(decided) ?? 'null'}`,
        condition.offset,
      );
    }
    if (decided) return evaluateNode(args[i + 1] as Expr, ctx, env);
  }
  return evaluateNode(args.at(-1) as Expr, ctx, env);
}

function compare(operator: Extract<Expr, { kind: 'compare' }>['operator'], left: Value, right: Value): boolean {
  switch (operator) {
    case '==':
      return looseEquals(left, right);
    case '!=':
      return !looseEquals(left, right);
    case '<':
      return compareValues(left, right) < 0;
    case '<=':
      return compareValues(left, right) <= 0;
    case '>':
      return compareValues(left, right) > 0;
    case '>=':
      return compareValues(left, right) >= 0;
  }
}

/**
 * An access either yields one value (undefined = missing) or, once a `*` is involved, a filtered
 * list: later accesses map over its elements and drop the ones that miss (`needs.*.result`).
 */
type AccessResult = { filtered: false; value: Value | undefined } | { filtered: true; items: Value[] };

function access(node: AccessExpr, ctx: ExpressionContext, env: FunctionEnvironment): AccessResult {
  const object = node.object;
  const base: AccessResult =
    object.kind === 'property' || object.kind === 'index' || object.kind === 'wildcard'
      ? access(object, ctx, env)
      : { filtered: false, value: evaluateNode(object, ctx, env) };

  if (node.kind === 'wildcard') {
    const sources = base.filtered ? base.items : [base.value ?? null];
    const items = sources.flatMap(elementsOf);
    env.budget.spend(sources.length + items.length, node.offset);
    return { filtered: true, items };
  }
  const key = node.kind === 'property' ? node.name : evaluateNode(node.index, ctx, env);
  if (!base.filtered) return { filtered: false, value: lookup(base.value ?? null, key) };
  env.budget.spend(base.items.length, node.offset);
  const items: Value[] = [];
  for (const item of base.items) {
    const value = lookup(item, key);
    if (value !== undefined) items.push(value);
  }
  return { filtered: true, items };
}

function elementsOf(value: Value): Value[] {
  if (Array.isArray(value)) return [...value];
  if (value !== null && typeof value === 'object') return Object.values(value);
  return [];
}

/**
 * `target[key]`, or undefined when missing. Arrays take numeric-ish keys (truncated); objects take
 * the key's string form (GitHub's: `foo[18]` reads `'18'`, `foo[true]` `'true'`, `foo[null]` `''`),
 * exact first, then ignoring case (GitHub's contexts are case-insensitive).
 */
function lookup(target: Value, keyValue: Value): Value | undefined {
  if (Array.isArray(target)) {
    const index = Math.trunc(toNumber(keyValue));
    if (!Number.isFinite(index) || index < 0 || index >= target.length) return undefined;
    return target[index];
  }
  if (target === null || typeof target !== 'object' || isContainer(keyValue)) return undefined;
  const key = toStringValue(keyValue);
  if (FORBIDDEN_KEYS.has(key.toLowerCase())) return undefined;
  if (Object.hasOwn(target, key)) return target[key];
  const folded = foldCase(key);
  for (const candidate of Object.keys(target)) {
    if (foldCase(candidate) === folded) return target[candidate];
  }
  return undefined;
}
