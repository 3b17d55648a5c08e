import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.ts';
import { isExperimentFile, mergeExperiments } from '../../src/pipeline/experiment-files.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';

const MAIN = [
  'pipeline:',
  '  jobs: { build: { steps: [make] } }',
  'service: { run: x }',
  'environments: { staging: {}, production: {} }',
  'slos: { availability: { objective: 99.9% } }',
  'experiments:',
  '  slow-payments:',
  '    environment: staging',
  '    hypothesis: { error-rate: { max: 1% } }',
  '    faults: [{ latency: { delay: 200ms } }]',
  '    duration: 1m',
].join('\n');

const main = { file: 'gantry.yaml', text: MAIN, config: parseConfig(MAIN, 'gantry.yaml') };

function problems(files: { file: string; text: string }[]): string[] {
  try {
    mergeExperiments(main, files);
    return [];
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return error.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`);
  }
}

describe('experiment files', () => {
  it("appends each file's experiments to gantry.yaml's, files in name order", () => {
    const merged = mergeExperiments(main, [
      {
        file: '.gantry/experiments/z.yaml',
        text: 'experiments:\n  kill-one: { environment: production, hypothesis: { slo: availability }, faults: [{ kill: {} }], duration: 30s }\n',
      },
      {
        file: '.gantry/experiments/a.yaml',
        text: 'experiments:\n  pause-one: { environment: staging, hypothesis: { error-rate: { max: 5% } }, faults: [{ pause: {} }], duration: 10s }\n',
      },
    ]);
    expect(merged.map((e) => e.name)).toEqual(['slow-payments', 'pause-one', 'kill-one']);
    expect(merged[2]?.instanceFaults).toEqual([{ kind: 'kill', target: { count: 1 } }]);
  });

  it("reports problems at their positions in the file's own name, with did-you-mean against gantry.yaml's declarations", () => {
    expect(
      problems([
        {
          file: '.gantry/experiments/pay.yaml',
          text: [
            'experiments:',
            '  x:',
            '    environment: stagin',
            '    hypothesis: { slo: availabilty }',
            '    faults: [{ kil: {} }]',
            '    duration: 1m',
          ].join('\n'),
        },
        { file: '.gantry/experiments/typo.yaml', text: 'experiment: {}\n' },
      ]),
    ).toEqual([
      ".gantry/experiments/pay.yaml:3:18: environment 'stagin' is not declared in 'environments' (did you mean 'staging'?)",
      ".gantry/experiments/pay.yaml:4:24: SLO 'availabilty' is not declared in 'slos' (did you mean 'availability'?)",
      ".gantry/experiments/pay.yaml:5:14: item 1 of 'faults' in experiment 'x': give exactly one fault kind (latency, abort, reset, timeout, kill, restart, pause, cpu, memory or disk-full), got 0",
      ".gantry/experiments/pay.yaml:5:16: unknown key 'kil' in fault 1 of experiment 'x' (did you mean 'kill'?)",
      ".gantry/experiments/typo.yaml:1:1: unknown key 'experiment' at the top level (did you mean 'experiments'?)",
    ]);
  });

  it('refuses a name declared twice, naming both places', () => {
    const twice =
      'experiments:\n  slow-payments: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [{ reset: {} }], duration: 1m }\n';
    expect(
      problems([
        { file: '.gantry/experiments/b.yaml', text: twice },
        { file: '.gantry/experiments/c.yaml', text: twice },
      ]),
    ).toEqual([
      ".gantry/experiments/b.yaml:2:3: experiment 'slow-payments' is declared twice: here and in gantry.yaml:7:3 (rename one)",
      ".gantry/experiments/c.yaml:2:3: experiment 'slow-payments' is declared twice: here and in gantry.yaml:7:3 (rename one)",
    ]);
  });

  it('knows which paths are experiment files', () => {
    expect(isExperimentFile('.gantry/experiments/pay.yaml')).toBe(true);
    expect(isExperimentFile('.gantry/experiments/pay.yml')).toBe(true);
    expect(isExperimentFile('.gantry/experiments/sub/pay.yaml')).toBe(false);
    expect(isExperimentFile('.gantry/gantry.schema.json')).toBe(false);
  });

  it("checks a file's disk-full fault against gantry.yaml's service tmp-size", () => {
    const file = {
      file: '.gantry/experiments/disk.yaml',
      text: 'experiments:\n  fill: { environment: staging, hypothesis: { error-rate: { max: 5% } }, faults: [{ disk-full: {} }], duration: 10s }\n',
    };
    expect(problems([file])).toEqual([
      ".gantry/experiments/disk.yaml:2:96: disk-full fills only an instance's /tmp held in memory: give the service a tmp-size (e.g. tmp-size: 64MiB), so that no real disk is ever filled",
    ]);
    const withTmp = MAIN.replace('service: { run: x }', 'service: { run: x, tmp-size: 1MiB }');
    const merged = mergeExperiments({ file: 'gantry.yaml', text: withTmp, config: parseConfig(withTmp, 'gantry.yaml') }, [file]);
    expect(merged[1]?.instanceFaults).toEqual([{ kind: 'disk-full', target: { count: 1 } }]);
  });
});
