/**
 * `exclude` entries that can match no combination are refused (load-config.ts, checkExcludes):
 * a key that is no axis, a value the axis does not hold. Checked against the plan itself: an
 * entry is refused exactly when the plan with it has as many cells as without it.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/pipeline/load-config.ts';
import { matrixCells } from '../../src/pipeline/plan.ts';
import { parseCommitConfig, parseStoredConfig } from '../../src/pipeline/stored-config.ts';

/** A job with two axes and an include, and the given exclude entries (flow maps). */
function withExcludes(...entries: string[]): string {
  return [
    'pipeline:',
    '  jobs:',
    '    test:',
    '      matrix:',
    '        os: [linux, mac]',
    '        node: [20, 22]',
    '        include: [{ os: linux, gui: gnome }]',
    ...(entries.length > 0 ? ['        exclude:', ...entries.map((entry) => `          - ${entry}`)] : []),
    '      steps: [{ run: echo }]',
  ].join('\n');
}

function problems(text: string): string[] {
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

function cellCount(text: string): number {
  const matrix = parseStoredConfig(text).pipeline.jobs.test?.matrix;
  if (!matrix) throw new Error('no matrix');
  return matrixCells(matrix, { contexts: {} }).length;
}

describe('matrix exclude entries', () => {
  it('refuses a key that is no axis and a value the axis does not hold, saying why', () => {
    expect(problems(withExcludes('{ operating-system: linux }', '{ os: windows }', '{ os: linux, gui: gnome }', '{ node: "20" }'))).toEqual(
      [
        "9:15: exclude entry 1 of job 'test': 'operating-system' is no axis of the matrix, so the entry excludes nothing (axes: os, node)",
        `10:19: exclude entry 2 of job 'test': "windows" is no value of axis 'os', so the entry excludes nothing (values: "linux", "mac")`,
        "11:26: exclude entry 3 of job 'test': 'gui' is no axis of the matrix, so the entry excludes nothing (axes: os, node)",
        `12:21: exclude entry 4 of job 'test': "20" is no value of axis 'node', so the entry excludes nothing (values: 20, 22) (a string here, a number in the axis)`,
      ],
    );
  });

  const candidates = [
    '{ os: linux }',
    '{ os: mac, node: 22 }',
    '{ node: 20 }',
    '{ os: windows }',
    '{ node: "22" }',
    '{ gui: gnome }',
    '{ os: linux, gui: gnome }',
    '{ Os: linux }',
    '{ os: LINUX }',
    '{ node: 20.0 }',
    '{ os: mac, node: 21 }',
  ];
  it.each(candidates)('refuses %s exactly when the plan with it loses no combination', (entry) => {
    const refused = problems(withExcludes(entry)).length > 0;
    const excludesSomething = cellCount(withExcludes(entry)) < cellCount(withExcludes());
    expect(refused).toBe(!excludesSomething);
  });

  it('leaves computed axes and entries alone, and stored runs and releases load as they were accepted', () => {
    const computed = withExcludes('{ os: "${{ inputs.skip }}" }', '{ node: 21 }').replace(
      'node: [20, 22]',
      'node: ["${{ fromJSON(inputs.nodes) }}"]',
    );
    expect(problems(computed)).toEqual([]);
    expect(cellCount(withExcludes('{ os: windows }'))).toBe(4);
    expect(() => parseCommitConfig(withExcludes('{ os: windows }'), 'gantry.yaml')).toThrow(/"windows" is no value of axis 'os'/);
  });
});
