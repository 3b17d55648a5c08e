/**
 * The Dockerfile rules against hadolint's own test cases (extracted by
 * scripts/extract-hadolint-cases.ts into reference/hadolint-cases.json): for each case, whether
 * the rule reports must be what hadolint's spec says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintDockerfile } from '../../src/security/dockerfile/index.ts';

const { cases } = JSON.parse(readFileSync(join(import.meta.dirname, 'reference', 'hadolint-cases.json'), 'utf8')) as {
  cases: { rule: string; name: string; dockerfile: string; catches: boolean }[];
};

describe("hadolint's test cases", () => {
  it('has cases for every rule it claims', () => {
    expect(new Set(cases.map((c) => c.rule)).size).toBeGreaterThanOrEqual(14);
  });

  for (const rule of [...new Set(cases.map((c) => c.rule))]) {
    it(rule, () => {
      const wrong = cases
        .filter((c) => c.rule === rule)
        .filter((c) => lintDockerfile(c.dockerfile).some((f) => f.code === rule) !== c.catches)
        .map((c) => `${c.catches ? 'missed' : 'false alarm'}: ${c.name}: ${JSON.stringify(c.dockerfile)}`);
      expect(wrong).toEqual([]);
    });
  }
});
