/**
 * Branch and path filters with GitHub's filter pattern syntax (src/pipeline/filter-patterns.ts),
 * against two outside references (github-filter-patterns/README.md): act's matching cases, most
 * of them GitHub's own cheat-sheet tables, and actionlint's validation cases. Then the filters
 * through gantry.yaml: refused at the character, and the plan's matching.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { filterPatternProblem, lastMatchWins } from '../../src/pipeline/filter-patterns.ts';
import { validateConfig } from '../../src/pipeline/load-config.ts';
import { parseStoredConfig } from '../../src/pipeline/stored-config.ts';
import { matchTrigger } from '../../src/pipeline/triggers.ts';

interface Cases {
  match: { patterns: string[]; inputs: string[]; skip: boolean; ignored: boolean }[];
  valid: { both: string[]; path: string[] };
  invalid: Record<'both' | 'branch' | 'path', { what: string; input: string; actionlint: string | null }[]>;
}
const cases = JSON.parse(readFileSync(new URL('./github-filter-patterns/cases.json', import.meta.url), 'utf8')) as Cases;

/** actionlint's refusals Gantry does not make, each with its reason. */
const ACCEPTED_ON_PURPOSE: Readonly<Record<string, string>> = {
  '[x]': 'a class of one character is a style matter (actionlint: "useless"); it matches x, as GitHub reads it.',
};

describe("GitHub's filter patterns", () => {
  it.each(cases.match.filter((c) => c.patterns.length > 0))(
    'act: $patterns against $inputs, skipped: $skip',
    ({ patterns, inputs, skip }) => {
      // A push runs when one of its changed files (or its branch) passes the list; act's Skip says the opposite.
      expect(!inputs.some((input) => lastMatchWins(input, patterns))).toBe(skip);
    },
  );

  // As a -ignore list (act's Filter): a push is left out when every one of its files (or its branch) is ignored.
  // act reads a '!' in such a list its own way, which GitHub does not define: those cases are left out.
  it.each(cases.match.filter((c) => c.patterns.length > 0 && !c.patterns.some((p) => p.startsWith('!'))))(
    'act: $patterns as an -ignore list against $inputs, ignored: $ignored',
    ({ patterns, inputs, ignored }) => {
      expect(inputs.every((input) => lastMatchWins(input, patterns))).toBe(ignored);
    },
  );

  it.each(cases.valid.both)('actionlint accepts %j for branches and paths, and so does Gantry', (pattern) => {
    expect(filterPatternProblem(pattern, 'branch')).toBeUndefined();
    expect(filterPatternProblem(pattern, 'path')).toBeUndefined();
  });

  it.each(cases.valid.path)('actionlint accepts %j for paths, and so does Gantry', (pattern) => {
    expect(filterPatternProblem(pattern, 'path')).toBeUndefined();
  });

  const refused = [
    ...cases.invalid.both.flatMap((c) => [
      { ...c, kind: 'branch' as const },
      { ...c, kind: 'path' as const },
    ]),
    ...cases.invalid.branch.map((c) => ({ ...c, kind: 'branch' as const })),
    ...cases.invalid.path.map((c) => ({ ...c, kind: 'path' as const })),
  ].filter((c) => !(c.input in ACCEPTED_ON_PURPOSE));
  it.each(refused)('actionlint refuses $input as a $kind filter ($what), and so does Gantry', ({ input, kind }) => {
    expect(filterPatternProblem(input, kind)).toBeDefined();
  });

  it.each(Object.keys(ACCEPTED_ON_PURPOSE))('accepts %j on purpose', (pattern) => {
    expect(filterPatternProblem(pattern, 'branch')).toBeUndefined();
  });

  it('means `+` and `?` as GitHub does, not as a shell glob does', () => {
    expect(lastMatchWins('v1.10.2', ['v[0-9]+.[0-9]+.[0-9]+'])).toBe(true);
    expect(lastMatchWins('v1.x.2', ['v[0-9]+.[0-9]+.[0-9]+'])).toBe(false);
    expect(lastMatchWins('page.js', ['*.jsx?'])).toBe(true);
    expect(lastMatchWins('page.jsp', ['*.jsx?'])).toBe(false);
    expect(lastMatchWins('release+1', ['release\\+1'])).toBe(true);
    // Braces are no alternation in GitHub's syntax.
    expect(lastMatchWins('a', ['{a,b}'])).toBe(false);
  });
});

describe('filters in gantry.yaml', () => {
  const file = (branches: string, paths: string) =>
    ['pipeline:', '  on:', '    push:', `      branches: ${branches}`, `      paths: ${paths}`, '  jobs:', '    a: { steps: [echo] }'].join(
      '\n',
    );

  it('refuses a pattern GitHub cannot mean, at the character', () => {
    expect(
      validateConfig(file(`['release/[', "v[0-9]+.*", 'a b']`, `['src/**', '!', ./docs]`), 'gantry.yaml').diagnostics.map(
        (d) => `${d.line}:${d.col}: ${d.message}`,
      ),
    ).toEqual([
      "4:27: branch filter 'release/[': '[' is never closed: add ']' (or write \\[ for the character itself)",
      "4:46: branch filter 'a b': a space can never match: a branch name cannot contain spaces, ~, ^ or : (git check-ref-format)",
      "5:26: path filter '!': '!' must be followed by the pattern it excludes",
      "5:30: path filter './docs': paths are relative to the repository's root: leave out './'",
    ]);
  });

  it('leaves out pushes to ignored branches and pushes that change only ignored files', () => {
    const on = parseStoredConfig(
      [
        'pipeline:',
        '  on:',
        '    push:',
        "      branches-ignore: ['wip/**']",
        "      paths-ignore: ['docs/**', '*.md']",
        '  jobs:',
        '    a: { steps: [echo] }',
      ].join('\n'),
    ).pipeline.on;
    const push = (ref: string, changedFiles: string[]) => matchTrigger(on, { kind: 'push', ref, sha: 'a1', changedFiles });
    expect(push('refs/heads/main', ['src/a.ts', 'docs/x.md']).matched).toBe(true);
    expect(push('refs/heads/wip/try', ['src/a.ts']).reason).toBe("push to branch 'wip/try' matches branches-ignore (wip/**)");
    expect(push('refs/heads/main', ['docs/x.md', 'README.md']).reason).toBe(
      "push to branch 'main' matches branches not in branches-ignore (wip/**), but all 2 changed files match paths-ignore (docs/**, *.md)",
    );
    // As on GitHub, a branch filter alone leaves tags out.
    expect(push('refs/tags/v1', ['src/a.ts']).matched).toBe(false);
  });

  it('refuses a list together with its -ignore twin, as GitHub does', () => {
    const text = [
      'pipeline:',
      '  on:',
      '    push:',
      '      branches: [main]',
      '      branches-ignore: [wip]',
      '  jobs:',
      '    a: { steps: [echo] }',
    ];
    expect(validateConfig(text.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
      "5:7: use branches or branches-ignore, not both: a '!pattern' in branches excludes what it matches",
    ]);
  });

  it('checks tag filters as refs, and refuses tags with tags-ignore', () => {
    const text = [
      'pipeline:',
      '  on:',
      '    push:',
      "      tags: ['v*', 'v 2', 'rc:1']",
      "      tags-ignore: ['x.']",
      '  jobs:',
      '    a: { steps: [echo] }',
    ];
    expect(validateConfig(text.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
      "4:22: tag filter 'v 2': a space can never match: a tag name cannot contain spaces, ~, ^ or : (git check-ref-format)",
      "4:30: tag filter 'rc:1': ':' can never match: a tag name cannot contain spaces, ~, ^ or : (git check-ref-format)",
      "5:7: use tags or tags-ignore, not both: a '!pattern' in tags excludes what it matches",
      "5:23: tag filter 'x.': '.' can never match: a tag name cannot end with / or . (git check-ref-format)",
    ]);
  });

  it('checks pull_request filters the same way, and its types by name', () => {
    const text = [
      'pipeline:',
      '  on:',
      '    pull_request:',
      "      branches: ['main', 'v 2']",
      '      branches-ignore: [wip]',
      "      paths: ['src/**']",
      '      types: [opened, synchronized]',
      '      tags: [v1]',
      '  jobs:',
      '    a: { steps: [echo] }',
    ];
    expect(validateConfig(text.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
      "4:28: branch filter 'v 2': a space can never match: a branch name cannot contain spaces, ~, ^ or : (git check-ref-format)",
      "5:7: use branches or branches-ignore, not both: a '!pattern' in branches excludes what it matches",
      "7:23: item 2 of 'types' in 'pipeline.on.pull_request': expected 'opened', 'synchronize', 'reopened' or 'closed', got 'synchronized' (did you mean 'synchronize'?)",
      "8:7: unknown key 'tags' in 'pipeline.on.pull_request'",
    ]);
  });

  it("triggers on a tag-like branch and a changed file as GitHub would, and a stored '!' no longer breaks a push", () => {
    const on = parseStoredConfig(file(`['v[0-9]+.[0-9]+']`, `['src/**', '!']`)).pipeline.on;
    const push = (ref: string, changedFiles: string[]) => matchTrigger(on, { kind: 'push', ref, sha: 'a1', changedFiles }).matched;
    expect(push('refs/heads/v1.20', ['src/a.ts'])).toBe(true);
    expect(push('refs/heads/v1', ['src/a.ts'])).toBe(false);
    expect(push('refs/heads/v1.20', ['docs/a.md'])).toBe(false);
  });
});
