import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { collectJUnit, parseJUnit } from '../../src/executor/junit.ts';
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
