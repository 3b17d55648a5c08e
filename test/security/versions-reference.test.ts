/**
 * Version order against OSV's own reference data (google/osv-scalibr `semantic/testdata`, Apache
 * 2.0, vendored in ./reference/osv-scalibr with its source commit): every line `a <|=|> b` must
 * hold in Gantry's comparator, both ways round.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Ecosystem, versionComparator } from '../../src/security/versions/index.ts';

const DIR = join(import.meta.dirname, 'reference', 'osv-scalibr');

interface Case {
  line: number;
  a: string;
  op: '<' | '=' | '>';
  b: string;
}

function cases(file: string): Case[] {
  return readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .flatMap((text, i) => {
      if (text === '' || text.startsWith('# ') || text.startsWith('// ')) return [];
      const [a, op, b, ...extra] = text.split(' ');
      if (extra.length > 0 || (op !== '<' && op !== '=' && op !== '>')) throw new Error(`${file}:${i + 1}: not a case: ${text}`);
      return [{ line: i + 1, a: a as string, op, b: b as string }];
    });
}

const EXPECTED = { '<': -1, '=': 0, '>': 1 } as const;

const SUITES: [Ecosystem, string][] = [
  ['npm', 'semver-versions.txt'],
  ['crates.io', 'semver-versions.txt'],
  ['Go', 'semver-versions.txt'],
  ['PyPI', 'pypi-versions.txt'],
  ['PyPI', 'pypi-versions-generated.txt'],
  ['RubyGems', 'rubygems-versions.txt'],
  ['RubyGems', 'rubygems-versions-generated.txt'],
  ['Packagist', 'packagist-versions.txt'],
  ['Packagist', 'packagist-versions-generated.txt'],
];

describe('version order against OSV reference data', () => {
  for (const [ecosystem, file] of SUITES) {
    it(`${ecosystem}: ${file}`, () => {
      const compare = versionComparator(ecosystem);
      const all = cases(file);
      expect(all.length).toBeGreaterThan(20);
      const wrong = all.filter(({ a, op, b }) => compare(a, b) !== EXPECTED[op] || compare(b, a) !== -EXPECTED[op]);
      expect(wrong.map((c) => `${file}:${c.line} ${c.a} ${c.op} ${c.b} (got ${compare(c.a, c.b)})`)).toEqual([]);
    });
  }
});
