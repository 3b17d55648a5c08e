/**
 * Test counts and test cases from JUnit XML reports (`reports: { junit: pattern }`), the one
 * format every test runner can write. Counts come from the `<testcase>` elements, not from the
 * suites' `tests`/`failures` attributes, which runners fill inconsistently. The cases (names,
 * times, failure messages) outlive the workspace in the job's `tests.json` for the dashboard.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InputError } from '../core/errors.ts';
import type { TestCounts } from '../core/types.ts';
import { matchFiles } from './globs.ts';

/** TestCounts.failures holds at most this many names. */
const MAX_FAILURE_NAMES = 100;

/** A saved report keeps at most this many cases (failing ones first) … */
export const MAX_SAVED_CASES = 5000;
/** … and at most this many bytes of each case's failure details (stack traces can be huge). */
export const MAX_DETAILS_BYTES = 8 * 1024;

export type TestCaseStatus = 'failed' | 'passed' | 'skipped';

/** One `<testcase>` as the dashboard shows it. */
export interface TestCase {
  /** The nearest named enclosing `<testsuite>` ('' when none is named). */
  suite: string;
  classname: string;
  name: string;
  status: TestCaseStatus;
  /** From the `time` attribute (seconds); 0 when absent or unreadable. */
  timeMs: number;
  /** The `message` attribute of `<failure>`/`<error>`/`<skipped>`. */
  message?: string;
  /** The element's text (a stack trace), truncated to MAX_DETAILS_BYTES. */
  details?: string;
}

/** What a job saves as `tests.json`: the counts of every case, and at most MAX_SAVED_CASES cases. */
export interface TestResults {
  summary: { passed: number; failed: number; skipped: number };
  cases: TestCase[];
}

const REPEATED = new Set(['testsuites', 'testsuite', 'testcase', 'failure', 'error', 'skipped']);

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
 * Adds one element's test cases and nested suites to `out`, in document order. `suiteName` is
 * the nearest named enclosing `<testsuite>`; a `<testsuites>` name (the whole run, e.g.
 * "vitest tests") is not a suite name and is not inherited.
 */
function addSuite(node: XmlNode, suiteName: string, out: TestCase[], isSuite: boolean): void {
  const suite = (isSuite ? attribute(node, 'name') : '') || suiteName;
  for (const testcase of asNodes(node.testcase)) out.push(testCaseOf(testcase, suite));
  for (const child of asNodes(node.testsuite)) addSuite(child, suite, out, true);
  for (const child of asNodes(node.testsuites)) addSuite(child, suite, out, false);
}

function testCaseOf(node: XmlNode, suite: string): TestCase {
  const problem = firstOf(node.failure) ?? firstOf(node.error);
  const skipped = problem === undefined ? firstOf(node.skipped) : undefined;
  const status: TestCaseStatus = problem !== undefined ? 'failed' : skipped !== undefined ? 'skipped' : 'passed';
  const seconds = Number(attribute(node, 'time'));
  const result: TestCase = {
    suite,
    classname: attribute(node, 'classname'),
    name: attribute(node, 'name'),
    status,
    timeMs: Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0,
  };
  const element = problem ?? skipped;
  if (element !== undefined) {
    const message = typeof element === 'object' ? attribute(element, 'message') : '';
    const text = (typeof element === 'string' ? element : typeof element['#text'] === 'string' ? element['#text'] : '').trim();
    if (message) result.message = message;
    if (text) result.details = truncateBytes(text, MAX_DETAILS_BYTES);
  }
  return result;
}

/** The first `<failure>`-like child: '' (empty element), its text, or the element with attributes. */
function firstOf(value: unknown): XmlNode | string | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const first: unknown = value[0];
  if (typeof first === 'string') return first;
  return typeof first === 'object' && first !== null ? (first as XmlNode) : '';
}

function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  // A cut inside a multi-byte character decodes to U+FFFD: drop it.
  return `${Buffer.from(text)
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD+$/, '')}…`;
}

function caseName(c: TestCase): string {
  const group = c.suite || c.classname;
  return group ? `${group} › ${c.name}` : c.name;
}

function countsOf(cases: TestCase[]): TestCounts {
  const counts = emptyCounts();
  for (const c of cases) {
    if (c.status === 'failed') {
      counts.failed++;
      if (counts.failures.length < MAX_FAILURE_NAMES) counts.failures.push(caseName(c));
    } else if (c.status === 'skipped') {
      counts.skipped++;
    } else {
      counts.passed++;
    }
  }
  return counts;
}

const STATUS_RANK: Record<TestCaseStatus, number> = { failed: 0, skipped: 1, passed: 2 };

/** Failing cases first, then skipped, then passed; report order within each (a stable sort). */
export function failingFirst(cases: TestCase[]): TestCase[] {
  return [...cases].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status]);
}

/**
 * The test cases of a JUnit report rooted at `<testsuites>` or a bare `<testsuite>`, nested
 * suites included, in document order. A case with `<failure>` or `<error>` failed.
 * Throws InputError for malformed XML or another root element.
 */
export function parseJUnitCases(xml: string): TestCase[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new InputError(`malformed JUnit XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  }
  const doc = parser.parse(xml) as XmlNode;
  if (!('testsuites' in doc) && !('testsuite' in doc)) {
    throw new InputError('not a JUnit report: the root element is neither <testsuites> nor <testsuite>');
  }
  const cases: TestCase[] = [];
  addSuite(doc, '', cases, false);
  return cases;
}

/**
 * Counts passed, failed (`<failure>` or `<error>`) and skipped test cases of a JUnit report
 * rooted at `<testsuites>` or a bare `<testsuite>`, nested suites included. Failing tests are
 * named `suite › name` (the classname when the suite has no name), at most 100.
 * Throws InputError for malformed XML or another root element.
 */
export function parseJUnit(xml: string): TestCounts {
  return countsOf(parseJUnitCases(xml));
}

/**
 * The counts and the saved cases (at most MAX_SAVED_CASES, failing first) of the JUnit reports
 * in the workspace matched by `pattern`; null when no file matched (the job reports no tests
 * rather than zero tests). A malformed report fails with an InputError naming the file, so the
 * user knows which runner wrote it.
 */
export async function collectJUnitResults(
  workspaceDir: string,
  pattern: string,
): Promise<{ counts: TestCounts; results: TestResults } | null> {
  const files = await matchFiles(workspaceDir, [pattern]);
  if (files.length === 0) return null;
  const cases: TestCase[] = [];
  for (const rel of files) {
    // A link could point anywhere on the host; reports are regular files.
    if (!(await lstat(path.join(workspaceDir, rel))).isFile()) continue;
    try {
      for (const c of parseJUnitCases(await readFile(path.join(workspaceDir, rel), 'utf8'))) cases.push(c);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`${rel}: ${err.message}`, { file: rel });
      throw err;
    }
  }
  const counts = countsOf(cases);
  return {
    counts,
    results: {
      summary: { passed: counts.passed, failed: counts.failed, skipped: counts.skipped },
      cases: failingFirst(cases).slice(0, MAX_SAVED_CASES),
    },
  };
}

/** Sums the JUnit reports in the workspace matched by `pattern` (see collectJUnitResults); null when none matched. */
export async function collectJUnit(workspaceDir: string, pattern: string): Promise<TestCounts | null> {
  return (await collectJUnitResults(workspaceDir, pattern))?.counts ?? null;
}
