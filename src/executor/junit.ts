/**
 * Test counts from JUnit XML reports (`reports: { junit: pattern }`), the one format every
 * test runner can write. Counts come from the `<testcase>` elements, not from the suites'
 * `tests`/`failures` attributes, which runners fill inconsistently.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InputError } from '../core/errors.ts';
import type { TestCounts } from '../core/types.ts';
import { matchFiles } from './globs.ts';

/** TestCounts.failures holds at most this many names. */
const MAX_FAILURE_NAMES = 100;

const REPEATED = new Set(['testsuites', 'testsuite', 'testcase']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (tagName, _jPath, _isLeaf, isAttribute) => !isAttribute && REPEATED.has(tagName),
});

type XmlNode = Record<string, unknown>;

function asNodes(value: unknown): XmlNode[] {
  if (!Array.isArray(value)) return [];
  // `<testcase/>` without attributes parses as '': still a test case.
  return value.map((v) => (typeof v === 'object' && v !== null ? (v as XmlNode) : {}));
}

function attribute(node: XmlNode, name: string): string {
  const value = node[`@_${name}`];
  return typeof value === 'string' ? value.trim() : '';
}

function emptyCounts(): TestCounts {
  return { passed: 0, failed: 0, skipped: 0, failures: [] };
}

/**
 * Adds one element's test cases and nested suites to `counts`. `suiteName` is the nearest
 * named enclosing `<testsuite>`; a `<testsuites>` name (the whole run, e.g. "vitest tests")
 * is not a suite name and is not inherited.
 */
function addSuite(node: XmlNode, suiteName: string, counts: TestCounts, isSuite: boolean): void {
  const name = (isSuite ? attribute(node, 'name') : '') || suiteName;
  for (const testcase of asNodes(node.testcase)) {
    if ('failure' in testcase || 'error' in testcase) {
      counts.failed++;
      if (counts.failures.length < MAX_FAILURE_NAMES) {
        const group = name || attribute(testcase, 'classname');
        const test = attribute(testcase, 'name');
        counts.failures.push(group ? `${group} › ${test}` : test);
      }
    } else if ('skipped' in testcase) {
      counts.skipped++;
    } else {
      counts.passed++;
    }
  }
  for (const child of asNodes(node.testsuite)) addSuite(child, name, counts, true);
  for (const child of asNodes(node.testsuites)) addSuite(child, name, counts, false);
}

/**
 * Counts passed, failed (`<failure>` or `<error>`) and skipped test cases of a JUnit report
 * rooted at `<testsuites>` or a bare `<testsuite>`, nested suites included. Failing tests are
 * named `suite › name` (the classname when the suite has no name), at most 100.
 * Throws InputError for malformed XML or another root element.
 */
export function parseJUnit(xml: string): TestCounts {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new InputError(`malformed JUnit XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  }
  const doc = parser.parse(xml) as XmlNode;
  if (!('testsuites' in doc) && !('testsuite' in doc)) {
    throw new InputError('not a JUnit report: the root element is neither <testsuites> nor <testsuite>');
  }
  const counts = emptyCounts();
  addSuite(doc, '', counts, false);
  return counts;
}

/**
 * Sums the JUnit reports in the workspace matched by `pattern`; null when no file matched (the
 * job reports no tests rather than zero tests). A malformed report fails with an InputError
 * naming the file, so the user knows which runner wrote it.
 */
export async function collectJUnit(workspaceDir: string, pattern: string): Promise<TestCounts | null> {
  const files = await matchFiles(workspaceDir, [pattern]);
  if (files.length === 0) return null;
  const total = emptyCounts();
  for (const rel of files) {
    // A link could point anywhere on the host; reports are regular files.
    if (!(await lstat(path.join(workspaceDir, rel))).isFile()) continue;
    let counts: TestCounts;
    try {
      counts = parseJUnit(await readFile(path.join(workspaceDir, rel), 'utf8'));
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`${rel}: ${err.message}`, { file: rel });
      throw err;
    }
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
    total.failures.push(...counts.failures.slice(0, MAX_FAILURE_NAMES - total.failures.length));
  }
  return total;
}
