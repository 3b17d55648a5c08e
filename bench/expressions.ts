/**
 * Gantry's expression language against GitHub's own implementation, `@actions/expressions`, on
 * the same inputs: conformance on GitHub's 1,020 test cases (test/pipeline/github-expressions),
 * error positions, speed (parse + evaluate, alternating rounds, median), and the cost of the
 * issue's 356-character nested format() condition. In process, no servers; ~30 s.
 *
 * `EXPRESSIONS_MODULE=<path to src/pipeline/expressions/index.ts>` measures another tree's
 * Gantry (e.g. an older commit exported with `git archive`) for before/after figures; a tree
 * without parse options still runs the typical expressions and the nested case.
 *
 * Prints one JSON object on stdout; progress on stderr.
 */
import { cpus, loadavg } from 'node:os';
import { Evaluator, Lexer, Parser, type data } from '@actions/expressions';
import { replacer } from '@actions/expressions/data/replacer';
import { reviver } from '@actions/expressions/data/reviver';
import type { Value } from '../src/core/types.ts';
import { type CaseOutcome, type GitHubCase, disagreement, gitHubKindOf, loadGitHubCases } from '../test/pipeline/github-cases.ts';

const DEADLINE_MS = 120_000;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROUND_MS = Number(process.env.ROUND_MS ?? 600);

interface GantryModule {
  parseExpression: (src: string, options?: { contexts?: readonly string[] }) => unknown;
  evaluate: (tree: never, ctx: { contexts: Record<string, Value> }) => Value;
  evaluateCondition: (condition: string, ctx: { contexts: Record<string, Value> }) => boolean;
}

const modulePath = process.env.EXPRESSIONS_MODULE ?? '../src/pipeline/expressions/index.ts';
const gantry = (await import(modulePath)) as GantryModule;

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** What Gantry makes of a case: parse errors and evaluation errors apart, with their 1-based column. */
function runGantry(testCase: GitHubCase): CaseOutcome {
  let tree: unknown;
  try {
    tree = gantry.parseExpression(testCase.expr, { contexts: Object.keys(testCase.contexts) });
  } catch (error) {
    return { outcome: 'error', stage: 'parse', message: String(error), column: columnOf(error) };
  }
  try {
    const value = gantry.evaluate(tree as never, { contexts: testCase.contexts });
    return { outcome: 'value', kind: gitHubKindOf(value), value };
  } catch (error) {
    return { outcome: 'error', stage: 'evaluation', message: String(error), column: columnOf(error) };
  }
}

function columnOf(error: unknown): number | undefined {
  const offset = (error as { offset?: unknown }).offset;
  return typeof offset === 'number' ? offset + 1 : undefined;
}

/**
 * What the library makes of a case, used as its own x-lang test uses it. Its lexer reports the
 * position only in the message; its parser as line and column, turned here into a column of the
 * whole expression; its evaluator gives none.
 */
function runLibrary(testCase: GitHubCase): CaseOutcome {
  const contexts = JSON.parse(JSON.stringify(testCase.contexts), reviver) as data.Dictionary;
  let tree: ReturnType<Parser['parse']>;
  try {
    tree = new Parser(new Lexer(testCase.expr).lex().tokens, Object.keys(testCase.contexts), []).parse();
  } catch (error) {
    return { outcome: 'error', stage: 'parse', message: String(error), column: libraryColumn(testCase.expr, error) };
  }
  try {
    const result = tree === undefined ? null : (JSON.parse(JSON.stringify(new Evaluator(tree, contexts).evaluate(), replacer)) as Value);
    return { outcome: 'value', kind: gitHubKindOf(result), value: result };
  } catch (error) {
    return { outcome: 'error', stage: 'evaluation', message: String(error), column: undefined };
  }
}

function libraryColumn(expr: string, error: unknown): number | undefined {
  const pos = (error as { pos?: { line: number; column: number } }).pos;
  if (pos !== undefined) {
    const lines = expr.split('\n').slice(0, pos.line);
    return lines.reduce((offset, line) => offset + line.length + 1, 0) + pos.column + 1;
  }
  const inMessage = /Located at position (\d+)/.exec(String(error))?.[1];
  return inMessage === undefined ? undefined : Number(inMessage);
}

interface Conformance {
  agree: number;
  /** Error cases where GitHub's message gives a column and this implementation gave the same one. */
  error_columns_matching: number;
  /** Errors raised while evaluating (not parsing), and how many of them carry a position. */
  evaluation_errors: number;
  evaluation_errors_positioned: number;
  disagreeing: string[];
}

function conformance(cases: readonly GitHubCase[], run: (testCase: GitHubCase) => CaseOutcome): Conformance {
  const result: Conformance = {
    agree: 0,
    error_columns_matching: 0,
    evaluation_errors: 0,
    evaluation_errors_positioned: 0,
    disagreeing: [],
  };
  for (const testCase of cases) {
    let outcome: CaseOutcome;
    try {
      outcome = run(testCase);
    } catch (error) {
      outcome = { outcome: 'error', stage: 'evaluation', message: `crashed: ${String(error)}`, column: undefined };
    }
    if (disagreement(testCase.expected, outcome) === undefined) result.agree++;
    else result.disagreeing.push(testCase.id);
    if (outcome.outcome !== 'error') continue;
    if (testCase.expected.outcome === 'error' && testCase.expected.column !== undefined && outcome.column === testCase.expected.column) {
      result.error_columns_matching++;
    }
    if (outcome.stage !== 'evaluation') continue;
    result.evaluation_errors++;
    if (outcome.column !== undefined) result.evaluation_errors_positioned++;
  }
  return result;
}

/** Runs `work` repeatedly for about ROUND_MS and returns calls per second. */
function rate(work: () => void): number {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ROUND_MS) {
    for (let i = 0; i < 50; i++) work();
    calls += 50;
    elapsed = performance.now() - start;
  }
  return (calls / elapsed) * 1000;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** Alternating rounds of both, so load on a shared machine falls on both alike. */
function compareSpeed(gantryWork: () => void, libraryWork: () => void): { gantry_per_s: number; library_per_s: number; ratio: number } {
  const g: number[] = [];
  const l: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    g.push(rate(gantryWork));
    l.push(rate(libraryWork));
  }
  const gantryPerS = median(g);
  const libraryPerS = median(l);
  return { gantry_per_s: Math.round(gantryPerS), library_per_s: Math.round(libraryPerS), ratio: round2(gantryPerS / libraryPerS) };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** Expressions as gantry.yaml writes them, over Gantry's contexts. */
const TYPICAL = [
  "needs.build.result == 'success' && matrix.os == 'linux'",
  "contains(needs.*.result, 'failure')",
  "format('node-{0}-{1}.tar.gz', matrix.node, matrix.os)",
  "startsWith(gantry.ref, 'refs/heads/') && !contains(gantry.ref, 'wip')",
  "fromJSON(needs.build.outputs.matrix).include[0].os || 'linux'",
  'toJSON(matrix)',
];
const TYPICAL_CONTEXTS: Record<string, Value> = {
  matrix: { os: 'linux', node: 22 },
  needs: {
    build: { result: 'success', outputs: { matrix: '{"include":[{"os":"darwin"}]}' } },
    test: { result: 'failure', outputs: {} },
  },
  gantry: { ref: 'refs/heads/main' },
  env: {},
  steps: {},
  inputs: {},
  secrets: {},
  job: {},
};

/** The condition: six nested format() calls repeating a 56-character string ten times each. */
function nestedFormatCondition(): string {
  let inner = `'${'x'.repeat(56)}'`;
  for (let level = 0; level < 6; level++) inner = `format('${'{0}'.repeat(10)}', ${inner})`;
  return `matrix.os == 'linux' && startsWith(${inner}, 'gantry')`;
}

function nestedFormat(): { length: number; ms: number; peak_rss_growth_mb: number; outcome: string } {
  const condition = nestedFormatCondition();
  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  let outcome: string;
  try {
    outcome = `result ${gantry.evaluateCondition(condition, { contexts: { matrix: { os: 'linux' } } })}`;
  } catch (error) {
    outcome = `${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`;
  }
  const ms = performance.now() - start;
  // The process's peak RSS so far, against its RSS just before: what the evaluation needed at most.
  const peakGrowth = Math.max(0, process.resourceUsage().maxRSS * 1024 - rssBefore);
  return { length: condition.length, ms: Math.round(ms), peak_rss_growth_mb: Math.round(peakGrowth / 1e6), outcome };
}

const deadline = setTimeout(() => {
  process.stderr.write(`[bench] deadline of ${DEADLINE_MS} ms passed\n`);
  process.exit(2);
}, DEADLINE_MS);
deadline.unref();

progress(`Gantry from ${modulePath}`);
// First, so the process's peak RSS is this evaluation's and not the conformance run's.
progress('nested format() condition');
const nested = nestedFormat();
const cases = loadGitHubCases();
progress(`conformance on ${cases.length} cases`);
const gantryConformance = conformance(cases, runGantry);
const libraryConformance = conformance(cases, runLibrary);

progress(`speed: ${ROUNDS} alternating rounds of ${ROUND_MS} ms`);
const parsedTypical = TYPICAL.map((src) => ({
  gantry: gantry.parseExpression(src),
  library: new Parser(new Lexer(src).lex().tokens, Object.keys(TYPICAL_CONTEXTS), []).parse(),
}));
const libraryContexts = JSON.parse(JSON.stringify(TYPICAL_CONTEXTS), reviver) as data.Dictionary;
let next = 0;
const typicalParseAndEvaluate = compareSpeed(
  () => {
    const src = TYPICAL[next++ % TYPICAL.length] as string;
    gantry.evaluate(gantry.parseExpression(src) as never, { contexts: TYPICAL_CONTEXTS });
  },
  () => {
    const src = TYPICAL[next++ % TYPICAL.length] as string;
    new Evaluator(new Parser(new Lexer(src).lex().tokens, Object.keys(TYPICAL_CONTEXTS), []).parse(), libraryContexts).evaluate();
  },
);
const typicalEvaluateOnly = compareSpeed(
  () => {
    const parsed = parsedTypical[next++ % parsedTypical.length];
    gantry.evaluate(parsed?.gantry as never, { contexts: TYPICAL_CONTEXTS });
  },
  () => {
    const parsed = parsedTypical[next++ % parsedTypical.length];
    if (parsed) new Evaluator(parsed.library, libraryContexts).evaluate();
  },
);
// Every GitHub case through each (errors included), skipping the one case that builds large strings.
const speedCases = cases.filter((testCase) => !testCase.id.startsWith('syntax-errors/memory-errors'));
const allCases = compareSpeed(
  () => {
    for (const testCase of speedCases) runGantry(testCase);
  },
  () => {
    for (const testCase of speedCases) runLibrary(testCase);
  },
);

const summary = (c: Conformance) => ({ ...c, disagreeing: c.disagreeing.length <= 20 ? c.disagreeing : c.disagreeing.length });
process.stdout.write(
  `${JSON.stringify(
    {
      bench: 'expressions',
      gantry_module: modulePath,
      library: '@actions/expressions 0.3.61',
      cases: cases.length,
      conformance: {
        gantry: summary(gantryConformance),
        library: summary(libraryConformance),
        ratio: round2(gantryConformance.agree / libraryConformance.agree),
      },
      speed: {
        typical_parse_and_evaluate: typicalParseAndEvaluate,
        typical_evaluate_only: typicalEvaluateOnly,
        all_github_cases_rounds: { ...allCases, cases_per_round: speedCases.length },
      },
      nested_format_condition: nested,
      machine: { cores: cpus().length, node: process.version, loadavg_1m_at_end: round2(loadavg()[0] ?? 0) },
    },
    null,
    2,
  )}\n`,
);
