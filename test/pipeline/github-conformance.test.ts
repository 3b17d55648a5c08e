/**
 * Every one of GitHub's own expression test cases (actions/languageservices, vendored in
 * github-expressions/) through Gantry's parser and evaluator. A case may only fail if it is listed
 * below with the reason Gantry differs on purpose; a listed case that starts passing fails too,
 * so the list stays exactly the set of differences.
 */
import { describe, expect, it } from 'vitest';
import { disagreement, loadGitHubCases, runWithGantry } from './github-cases.ts';

/** The intended divergences, by case id, each with its reason. */
const DIVERGENCES: Readonly<Record<string, string>> = {
  'basic/empty_expression#0':
    "An empty expression is null to GitHub's evaluator, but its workflow parser refuses an empty `${{ }}`; in gantry.yaml it is always a mistake, so Gantry refuses it when the file is loaded.",
  'syntax-errors/parsing-errors#13':
    "GitHub's runner points at column 1 for an unknown function after `false &&`; Gantry (like GitHub's own TypeScript implementation) points at the function itself, column 10.",
  'syntax-errors/memory-errors#0':
    "GitHub's runner refuses this expression (two ~0.4 M-character strings) by its own memory accounting of .NET objects; Gantry bounds each result (10 MiB) and the work of an evaluation instead, and this one stays within both.",
};

const cases = loadGitHubCases();
const files = [...new Set(cases.map((testCase) => testCase.id.split('/')[0] ?? ''))];

describe("GitHub's expression test cases", () => {
  it('are all read (1,020 cases)', () => {
    expect(cases).toHaveLength(1020);
    expect(new Set(cases.map((testCase) => testCase.id)).size).toBe(cases.length);
  });

  // One test per file (a thousand tiny tests would cost more in the runner than in Gantry); a
  // failure lists every case of the file that disagrees, with what GitHub expects.
  it.each(files)('%s: every case gives GitHub’s result, apart from the listed divergences', (file) => {
    const problems: string[] = [];
    for (const testCase of cases.filter((c) => c.id.startsWith(`${file}/`))) {
      const problem = disagreement(testCase.expected, runWithGantry(testCase));
      const listed = Object.hasOwn(DIVERGENCES, testCase.id);
      if (problem !== undefined && !listed) problems.push(`${testCase.id} ${JSON.stringify(testCase.expr)}: ${problem}`);
      if (problem === undefined && listed)
        problems.push(`${testCase.id} is listed as a divergence but now agrees: remove it from the list`);
    }
    expect(problems).toEqual([]);
  });

  it('lists only divergences that exist', () => {
    const ids = new Set(cases.map((testCase) => testCase.id));
    expect(Object.keys(DIVERGENCES).filter((id) => !ids.has(id))).toEqual([]);
  });
});
