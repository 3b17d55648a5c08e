/**
 * The syntax tree of a `${{ }}` expression. Parsing once and walking a typed tree (never `eval`)
 * is what keeps expressions from user-controlled YAML safe to evaluate.
 */
import type { Value } from '../../core/types.ts';

/** The only top-level names an expression may read; anything else is a typo caught at parse time. */
export const CONTEXT_NAMES = ['env', 'matrix', 'steps', 'needs', 'inputs', 'secrets', 'gantry', 'job'] as const;

/** The binary operators that always produce a boolean. */
export type ComparisonOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** The built-in functions, in their canonical spelling. */
export type FunctionName =
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | 'format'
  | 'join'
  | 'toJSON'
  | 'fromJSON'
  | 'hashFiles'
  | 'case'
  | 'success'
  | 'failure'
  | 'always'
  | 'cancelled';

/**
 * One node. `offset` is the 0-based position in the parsed source where the node's text starts
 * (for `a.b` and `a == b`, where `a` starts), so errors can point back into the YAML.
 */
export type Expr =
  | { readonly kind: 'literal'; readonly value: Value; readonly offset: number }
  /** `name` in the spelling the parser was told (CONTEXT_NAMES unless it was given others). */
  | { readonly kind: 'context'; readonly name: string; readonly offset: number }
  /** `a.b`: `name` as written; lookup falls back to a case-insensitive match. */
  | { readonly kind: 'property'; readonly object: Expr; readonly name: string; readonly offset: number }
  /** `a[expr]` */
  | { readonly kind: 'index'; readonly object: Expr; readonly index: Expr; readonly offset: number }
  /** `a.*` or `a[*]`: the object filter; later accesses apply to every element. */
  | { readonly kind: 'wildcard'; readonly object: Expr; readonly offset: number }
  | { readonly kind: 'not'; readonly operand: Expr; readonly offset: number }
  | { readonly kind: 'compare'; readonly operator: ComparisonOperator; readonly left: Expr; readonly right: Expr; readonly offset: number }
  /** `a && b && c` kept flat so long chains do not make a deep tree. */
  | { readonly kind: 'logical'; readonly operator: '&&' | '||'; readonly operands: readonly Expr[]; readonly offset: number }
  | { readonly kind: 'call'; readonly name: FunctionName; readonly args: readonly Expr[]; readonly offset: number };

/** The nodes that read into a value; evaluated together so `*` filters can flow through them. */
export type AccessExpr = Extract<Expr, { kind: 'property' | 'index' | 'wildcard' }>;

/** The direct children of a node, for walks that must not care about node shapes. */
export function childrenOf(node: Expr): readonly Expr[] {
  switch (node.kind) {
    case 'literal':
    case 'context':
      return [];
    case 'property':
    case 'wildcard':
      return [node.object];
    case 'index':
      return [node.object, node.index];
    case 'not':
      return [node.operand];
    case 'compare':
      return [node.left, node.right];
    case 'logical':
      return node.operands;
    case 'call':
      return node.args;
  }
}

/** True when some node of the tree satisfies `test` (trees are depth-limited, so recursion is safe). */
export function someNode(node: Expr, test: (n: Expr) => boolean): boolean {
  if (test(node)) return true;
  return childrenOf(node).some((child) => someNode(child, test));
}
