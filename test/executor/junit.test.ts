import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import {
  collectJUnit,
  collectJUnitResults,
  MAX_DETAILS_BYTES,
  MAX_SAVED_CASES,
  parseJUnit,
  parseJUnitCases,
} from '../../src/executor/junit.ts';
import { tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

const NESTED = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="vitest" tests="7" failures="1">
  <testsuite name="math" tests="4">
    <testcase classname="math" name="adds" time="0.01"/>
    <testcase classname="math" name="divides">
      <failure message="expected 2 to be 3" type="AssertionError">stack &amp; more</failure>
    </testcase>
    <testcase classname="math" name="pending"><skipped/></testcase>
    <testsuite name="math.nested">
      <testcase name="deep error"><error message="boom"/></testcase>
      <testcase name="deep pass"></testcase>
    </testsuite>
  </testsuite>
  <testsuite tests="2">
    <testcase classname="com.example.StringTest" name="trims &lt;spaces&gt;"><failure/></testcase>
    <testcase/>
  </testsuite>
</testsuites>`;

describe('parseJUnit', () => {
  it('counts test cases of nested suites, errors as failures, with suite-qualified names', () => {
    expect(parseJUnit(NESTED)).toEqual({
      passed: 3,
      failed: 3,
      skipped: 1,
      failures: ['math › divides', 'math.nested › deep error', 'com.example.StringTest › trims <spaces>'],
    });
  });

  it('reads a bare <testsuite> root and an empty report', () => {
    expect(
      parseJUnit('<testsuite name="only"><testcase name="a"/><testcase name="b"><skipped message="later"/></testcase></testsuite>'),
    ).toEqual({ passed: 1, failed: 0, skipped: 1, failures: [] });
    expect(parseJUnit('<testsuites/>')).toEqual({ passed: 0, failed: 0, skipped: 0, failures: [] });
  });

  it('keeps at most 100 failure names but counts every failure', () => {
    const cases = Array.from({ length: 150 }, (_, i) => `<testcase name="t${i}"><failure/></testcase>`).join('');
    const counts = parseJUnit(`<testsuite name="many">${cases}</testsuite>`);
    expect(counts.failed).toBe(150);
    expect(counts.failures).toHaveLength(100);
    expect(counts.failures[99]).toBe('many › t99');
  });

  it('rejects malformed XML and other documents with InputError', () => {
    expect(() => parseJUnit('<testsuite><testcase></testsuite>')).toThrow(InputError);
    expect(() => parseJUnit('')).toThrow(InputError);
    expect(() => parseJUnit('<html><body/></html>')).toThrow(/neither <testsuites> nor <testsuite>/);
  });
});

describe('collectJUnit', () => {
  it('sums every matched report and returns null when none matched', async () => {
    const ws = temp.make('ws');
    writeTree(ws, {
      'reports/unit.xml': '<testsuite name="unit"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>',
      'reports/e2e/e2e.xml': '<testsuites><testsuite name="e2e"><testcase name="c"><skipped/></testcase></testsuite></testsuites>',
      'reports/notes.txt': 'not a report',
    });
    expect(await collectJUnit(ws, 'reports/**/*.xml')).toEqual({ passed: 1, failed: 1, skipped: 1, failures: ['unit › b'] });
    expect(await collectJUnit(ws, 'missing/*.xml')).toBeNull();
  });

  it('names the malformed file in its error', async () => {
    const ws = temp.make('ws');
    writeTree(ws, { 'reports/ok.xml': '<testsuite/>', 'reports/bad.xml': '<testsuite><oops></testsuite>' });
    await expect(collectJUnit(ws, 'reports/*.xml')).rejects.toThrow(/^reports\/bad\.xml: malformed JUnit XML/);
  });
});

describe('parseJUnitCases', () => {
  it('reads each case with its suite, status, time, message and details in document order', () => {
    const cases = parseJUnitCases(NESTED);
    expect(cases.map((c) => [c.suite, c.name, c.status])).toEqual([
      ['math', 'adds', 'passed'],
      ['math', 'divides', 'failed'],
      ['math', 'pending', 'skipped'],
      ['math.nested', 'deep error', 'failed'],
      ['math.nested', 'deep pass', 'passed'],
      ['', 'trims <spaces>', 'failed'],
      ['', '', 'passed'],
    ]);
    expect(cases[0]).toEqual({ suite: 'math', classname: 'math', name: 'adds', status: 'passed', timeMs: 10 });
    expect(cases[1]).toEqual({
      suite: 'math',
      classname: 'math',
      name: 'divides',
      status: 'failed',
      timeMs: 0,
      message: 'expected 2 to be 3',
      details: 'stack & more',
    });
    expect(cases[3]?.message).toBe('boom');
    expect(cases[5]).toEqual({ suite: '', classname: 'com.example.StringTest', name: 'trims <spaces>', status: 'failed', timeMs: 0 });
  });

  it('keeps the text of a failure without attributes and truncates long details', () => {
    const long = 'é'.repeat(MAX_DETAILS_BYTES);
    const [plain, huge] = parseJUnitCases(
      `<testsuite name="s"><testcase name="a"><failure>only text</failure></testcase><testcase name="b"><error>${long}</error></testcase></testsuite>`,
    );
    expect(plain).toMatchObject({ status: 'failed', details: 'only text' });
    expect(plain?.message).toBeUndefined();
    expect(Buffer.byteLength(huge?.details ?? '')).toBeLessThanOrEqual(MAX_DETAILS_BYTES + 3);
    expect(huge?.details).toMatch(/^é+…$/);
  });
});

describe('collectJUnitResults', () => {
  it('saves at most 5,000 cases, failing ones first, with the counts of all', async () => {
    const ws = temp.make('ws');
    const passing = Array.from({ length: 6000 }, (_, i) => `<testcase name="p${i}"/>`).join('');
    const failing = Array.from({ length: 3 }, (_, i) => `<testcase name="f${i}"><failure message="m${i}"/></testcase>`).join('');
    writeTree(ws, {
      'reports/a.xml': `<testsuite name="a">${passing}<testcase name="s"><skipped/></testcase></testsuite>`,
      'reports/b.xml': `<testsuite name="b">${failing}</testsuite>`,
    });
    const collected = await collectJUnitResults(ws, 'reports/*.xml');
    expect(collected?.counts).toMatchObject({ passed: 6000, failed: 3, skipped: 1, failures: ['b › f0', 'b › f1', 'b › f2'] });
    expect(collected?.results.summary).toEqual({ passed: 6000, failed: 3, skipped: 1 });
    const cases = collected?.results.cases ?? [];
    expect(cases).toHaveLength(MAX_SAVED_CASES);
    expect(cases.slice(0, 5).map((c) => `${c.status}:${c.name}`)).toEqual([
      'failed:f0',
      'failed:f1',
      'failed:f2',
      'skipped:s',
      'passed:p0',
    ]);
    expect(await collectJUnitResults(ws, 'none/*.xml')).toBeNull();
  });
});
