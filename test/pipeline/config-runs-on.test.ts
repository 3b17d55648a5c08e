/** `runs-on:` in gantry.yaml: which agents may run a job, checked with positions like the rest of the file. */
import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

function diagnostics(jobLines: string[]): string[] {
  const text = ['pipeline:', '  jobs:', '    build:', ...jobLines.map((line) => `      ${line}`)].join('\n');
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

describe('runs-on', () => {
  it('reads a list of labels or one label, and leaves jobs without it to the server', () => {
    const config = parseConfig(
      [
        'pipeline:',
        '  jobs:',
        '    a: { runs-on: [linux, large], steps: [make] }',
        '    b: { runs-on: gpu, steps: [make] }',
        '    c: { steps: [make] }',
      ].join('\n'),
      'gantry.yaml',
    );
    expect(config.pipeline.jobs.a?.runsOn).toEqual(['linux', 'large']);
    expect(config.pipeline.jobs.b?.runsOn).toEqual(['gpu']);
    expect(config.pipeline.jobs.c).not.toHaveProperty('runsOn');
  });

  it('refuses a label that is not a name, at its line and column', () => {
    const found = diagnostics(['runs-on: [linux, "big box"]', 'steps: [make]']);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^4:\d+: .*invalid agent label 'big box'/);
    expect(diagnostics(['runs-on: { os: linux }', 'steps: [make]'])[0]).toMatch(/^4:\d+: .*a list of agent labels/);
  });
});
