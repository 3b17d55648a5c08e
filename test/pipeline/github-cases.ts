/**
 * GitHub's own expression test cases (vendored in github-expressions/, see its README), read into
 * one flat list so the conformance test and the benchmark run exactly the same cases.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExpressionError } from '../../src/core/errors.ts';
import type { Value } from '../../src/core/types.ts';
import { kindOf, type ValueKind } from '../../src/pipeline/expressions/coerce.ts';
import { evaluate, parseExpression } from '../../src/pipeline/expressions/index.ts';

/** Where the vendored JSON files live. */
export const GITHUB_CASES_DIR = join(import.meta.dirname, 'github-expressions');

/** The kinds GitHub names its results by. */
export type GitHubKind = 'Null' | 'Boolean' | 'Number' | 'String' | 'Array' | 'Object';

/** At which stage GitHub fails an expression. */
export type GitHubErrorStage = 'lexing' | 'parsing' | 'evaluation';

/** One case: an expression, the contexts it sees, and GitHub's result or error. */
export interface GitHubCase {
  /** `file/group#n`, stable across runs: the key of the divergence list. */
  id: string;
  expr: string;
  contexts: Record<string, Value>;
  expected:
    | { outcome: 'value'; kind: GitHubKind; value: Value }
    /** `column`: GitHub's 1-based "Located at position N", when its message gives one. */
    | { outcome: 'error'; stage: GitHubErrorStage; message: string; column: number | undefined };
  /** GitHub marks a few cases as not passing in its own TypeScript implementation. */
  skippedByTypeScript: boolean;
}

interface RawCase {
  expr: string;
  contexts?: Record<string, Value>;
  result?: { kind: GitHubKind; value: Value };
  err?: { kind: GitHubErrorStage; value: string };
  options?: { skip?: string[] };
}

/** Every case of every file, in file order. */
export function loadGitHubCases(): GitHubCase[] {
  const cases: GitHubCase[] = [];
  const files = readdirSync(GITHUB_CASES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();
  for (const file of files) {
    const groups = JSON.parse(readFileSync(join(GITHUB_CASES_DIR, file), 'utf8')) as Record<string, RawCase[]>;
    for (const [group, raws] of Object.entries(groups)) {
      raws.forEach((raw, index) => {
        cases.push(toCase(`${file.replace(/\.json$/, '')}/${group}#${index}`, raw));
      });
    }
  }
  return cases;
}

function toCase(id: string, raw: RawCase): GitHubCase {
  const base = {
    id,
    expr: raw.expr,
    contexts: raw.contexts ?? {},
    skippedByTypeScript: raw.options?.skip?.includes('typescript') ?? false,
  };
  if (raw.err !== undefined) {
    const position = /Located at position (\d+)/.exec(raw.err.value)?.[1];
    return {
      ...base,
      expected: {
        outcome: 'error',
        stage: raw.err.kind,
        message: raw.err.value,
        column: position === undefined ? undefined : Number(position),
      },
    };
  }
  if (raw.result === undefined) throw new Error(`GitHub case ${id} has neither a result nor an error`);
  return { ...base, expected: { outcome: 'value', kind: raw.result.kind, value: raw.result.value } };
}

/** What an implementation made of a case, in GitHub's terms. */
export type CaseOutcome =
  | { outcome: 'value'; kind: GitHubKind; value: Value }
  /** `column`: 1-based, in the whole expression; undefined when the implementation gives none. */
  | { outcome: 'error'; stage: 'parse' | 'evaluation'; message: string; column: number | undefined };

const KIND_NAMES: Readonly<Record<ValueKind, GitHubKind>> = {
  null: 'Null',
  boolean: 'Boolean',
  number: 'Number',
  string: 'String',
  array: 'Array',
  object: 'Object',
};

/** GitHub's kind name of a JavaScript value. */
export function gitHubKindOf(value: Value): GitHubKind {
  return KIND_NAMES[kindOf(value)];
}

/**
 * Why `actual` is not GitHub's answer, or undefined when it is. Values compare as GitHub's own
 * runner compares them (their JSON text). An error must come at the same stage, except that failing
 * at parse time what GitHub fails at evaluation is allowed (Gantry checks literal format strings
 * early on purpose); the column must match where GitHub's message gives one.
 */
export function disagreement(expected: GitHubCase['expected'], actual: CaseOutcome): string | undefined {
  if (expected.outcome === 'value') {
    if (actual.outcome === 'error') return `expected ${expected.kind} ${JSON.stringify(expected.value)}, got error: ${actual.message}`;
    if (actual.kind !== expected.kind || JSON.stringify(actual.value) !== JSON.stringify(expected.value)) {
      return `expected ${expected.kind} ${JSON.stringify(expected.value)}, got ${actual.kind} ${JSON.stringify(actual.value)}`;
    }
    return undefined;
  }
  if (actual.outcome === 'value')
    return `expected a ${expected.stage} error (${expected.message}), got ${actual.kind} ${JSON.stringify(actual.value)}`;
  if (expected.stage !== 'evaluation' && actual.stage === 'evaluation') {
    return `expected a ${expected.stage} error (${expected.message}), got an evaluation error: ${actual.message}`;
  }
  if (expected.column !== undefined && actual.column !== expected.column) {
    return `expected the error at column ${expected.column} (${expected.message}), got column ${actual.column}: ${actual.message}`;
  }
  return undefined;
}

/** Runs a case through Gantry's parser (told the case's context names) and evaluator. */
export function runWithGantry(testCase: GitHubCase): CaseOutcome {
  let tree: ReturnType<typeof parseExpression>;
  try {
    tree = parseExpression(testCase.expr, { contexts: Object.keys(testCase.contexts) });
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    return { outcome: 'error', stage: 'parse', message: error.message, column: error.offset + 1 };
  }
  try {
    const value = evaluate(tree, { contexts: testCase.contexts });
    return { outcome: 'value', kind: gitHubKindOf(value), value };
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    return { outcome: 'error', stage: 'evaluation', message: error.message, column: error.offset + 1 };
  }
}
