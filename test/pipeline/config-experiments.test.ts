import { describe, expect, it } from 'vitest';
import type { ExperimentConfig } from '../../src/core/chaos-config.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';

const HEAD = [
  'pipeline:',
  '  jobs: { build: { steps: [make] } }',
  'service: { run: x }',
  'environments: { staging: {}, production: {} }',
  'slos: { availability: { objective: 99.9% } }',
  'experiments:',
];

/** `line:col: message` for each diagnostic of a file whose experiments section is given (indented 2); line 7 is the first. */
function problems(...lines: string[]): string[] {
  const text = [...HEAD, ...lines.map((line) => `  ${line}`)].join('\n');
  return validateConfig(text, 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

function experiments(...lines: string[]): ExperimentConfig[] {
  return parseConfig([...HEAD, ...lines.map((line) => `  ${line}`)].join('\n'), 'gantry.yaml').experiments ?? [];
}

describe('the experiments section', () => {
  it("reads the issue's example, every default filled", () => {
    const [slow] = experiments(
      'slow-payments:',
      '  environment: staging',
      '  hypothesis:',
      '    slo: availability',
      '    error-rate: { max: 1% }',
      '    latency-p99: { max: 400ms }',
      '  faults:',
      '    - latency: { delay: 200ms, jitter: 50ms, percent: 10, match: { path: /pay } }',
      '    - abort: { status: 502, percent: 1%, match: { header: { x-test: "1" }, method: post } }',
      '    - reset: {}',
      '  duration: 2m',
      '  guard: { min-budget: 50%, no-rollout: true }',
    );
    expect(slow).toEqual({
      name: 'slow-payments',
      environment: 'staging',
      hypothesis: { slo: 'availability', errorRate: { max: 0.01 }, latency: [{ quantile: 0.99, maxMs: 400 }] },
      faults: [
        { kind: 'latency', delayMs: 200, jitterMs: 50, distribution: 'uniform', percent: 10, match: { path: '/pay' } },
        { kind: 'abort', status: 502, percent: 1, match: { header: { name: 'x-test', value: '1' }, method: 'post' } },
        { kind: 'reset', percent: 100, match: {} },
      ],
      durationMs: 120_000,
      beforeMs: 30_000,
      afterMs: 10_000,
      guard: { minBudget: 0.5, noRollout: true },
    });
  });

  it('reports problems at their positions, with did-you-mean for keys, environments and SLOs', () => {
    expect(
      problems(
        'x:',
        '  environment: stagin',
        '  hypothesis: { slo: availabilty, error-rat: { max: 1% } }',
        '  faults: [{ latency: { delay: 200ms, percnt: 10 } }, { abort: {}, reset: {} }]',
        '  duration: 1m',
      ),
    ).toEqual([
      "8:18: environment 'stagin' is not declared in 'environments' (did you mean 'staging'?)",
      "9:24: SLO 'availabilty' is not declared in 'slos' (did you mean 'availability'?)",
      "9:37: unknown key 'error-rat' in the hypothesis of experiment 'x' (did you mean 'error-rate'?)",
      "10:41: unknown key 'percnt' in the latency fault 1 of experiment 'x' (did you mean 'percent'?)",
      "10:57: item 2 of 'faults' in experiment 'x': give exactly one fault kind (latency, abort, reset, timeout, kill, restart, pause, cpu, memory or disk-full), got 2",
    ]);
  });

  it('refuses a percentage above 100 and an experiment without faults', () => {
    const found = problems(
      'x:',
      '  environment: staging',
      '  hypothesis: { error-rate: { max: 1% } }',
      '  faults: [{ reset: { percent: 150 } }]',
      '  duration: 1m',
    );
    expect(found).toEqual(["10:34: 'percent' in the reset fault 1 of experiment 'x': expected a percentage from 0 to 100, got 150"]);
    expect(problems('x: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [], duration: 1m }')[0]).toContain(
      "'faults' in experiment 'x': expected a list of faults, got an empty list",
    );
  });

  it('asks for guard no-rollout: false when a fault targets the canary', () => {
    const found = problems(
      'canary-check:',
      '  environment: staging',
      '  hypothesis: { error-rate: { max: 1% } }',
      '  faults: [{ abort: { percent: 5, match: { release: canary } } }]',
      '  duration: 1m',
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('set guard: { no-rollout: false }');
    expect(
      problems(
        'canary-check:',
        '  environment: staging',
        '  hypothesis: { error-rate: { max: 1% } }',
        '  faults: [{ abort: { percent: 5, match: { release: canary } } }]',
        '  duration: 1m',
        '  guard: { no-rollout: false }',
      ),
    ).toEqual([]);
  });

  it('reads instance faults apart from the proxy ones: a count or a share of instances, of a release', () => {
    const [x] = experiments(
      'x:',
      '  environment: staging',
      '  hypothesis: { error-rate: { max: 1% } }',
      '  faults:',
      '    - kill: {}',
      '    - pause: { instances: 50%, release: r1 }',
      '    - restart: { instances: 2 }',
      '    - cpu: { workers: 2 }',
      '    - memory: { size: 256MiB, release: canary }',
      '    - abort: { percent: 5 }',
      '  duration: 1m',
      '  guard: { no-rollout: false }',
    );
    expect(x?.faults).toEqual([{ kind: 'abort', status: 503, percent: 5, match: {} }]);
    expect(x?.instanceFaults).toEqual([
      { kind: 'kill', target: { count: 1 } },
      { kind: 'pause', target: { share: 0.5, release: 'r1' } },
      { kind: 'restart', target: { count: 2 } },
      { kind: 'cpu', target: { count: 1 }, workers: 2 },
      { kind: 'memory', target: { count: 1, release: 'canary' }, bytes: 256 * 1024 * 1024 },
    ]);
  });

  it('reports bad instance faults at their positions, with did-you-mean', () => {
    expect(
      problems(
        'x:',
        '  environment: staging',
        '  hypothesis: { error-rate: { max: 1% } }',
        '  faults: [{ kill: { instances: 0 } }, { memory: { size: 9GiB } }, { pause: { instance: 1 } }]',
        '  duration: 1m',
      ),
    ).toEqual([
      "10:35: 'instances' in the kill fault 1 of experiment 'x': expected a number of instances (1 or more) or a share such as 50%, got 0",
      "10:60: 'size' in the memory fault 2 of experiment 'x': expected a size from 1 byte to 8GiB such as 256MiB, got 9GiB",
      "10:81: unknown key 'instance' in the pause fault 3 of experiment 'x' (did you mean 'instances'?)",
    ]);
  });

  it('reads a schedule: a cron in an IANA time zone, a window, and every for the monkey mode', () => {
    const [x] = experiments(
      'x:',
      '  environment: staging',
      '  hypothesis: { error-rate: { max: 1% } }',
      '  faults: [{ kill: {} }]',
      '  duration: 1m',
      "  schedule: { cron: '0 14 * * 1-5', window: 2h, timezone: Europe/Paris, every: 10m }",
    );
    expect(x?.schedule).toEqual({ cron: '0 14 * * 1-5', windowMs: 7_200_000, timezone: 'Europe/Paris', everyMs: 600_000 });
    expect(
      problems(
        'x:',
        '  environment: staging',
        '  hypothesis: { error-rate: { max: 1% } }',
        '  faults: [{ kill: {} }]',
        '  duration: 1m',
        "  schedule: { cron: '0 14 * *', window: 2h, timezone: Europe/Pariss, evry: 3h }",
      ),
    ).toEqual([
      "12:23: 'cron' in the schedule of experiment 'x': invalid cron pattern '0 14 * *': expected 5 fields (minute hour day month weekday), e.g. '0 14 * * 1-5'",
      "12:57: 'timezone' in the schedule of experiment 'x': unknown time zone 'Europe/Pariss': use an IANA name such as Europe/Paris or UTC",
      "12:72: unknown key 'evry' in the schedule of experiment 'x' (did you mean 'every'?)",
    ]);
  });

  it('reads a fault on one service edge: the caller as project/environment, or an environment of this project', () => {
    const [x] = experiments(
      'x:',
      '  environment: staging',
      '  hypothesis: { error-rate: { max: 1% } }',
      '  faults: [{ timeout: { after: 2s, match: { caller: checkout/staging } } }, { latency: { delay: 1s, match: { caller: production } } }]',
      '  duration: 1m',
    );
    expect(x?.faults.map((f) => f.match)).toEqual([{ caller: 'checkout/staging' }, { caller: 'production' }]);
    expect(
      problems(
        'x: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [{ reset: { match: { caller: a/b/c } } }], duration: 1m }',
      ),
    ).toEqual([
      "7:108: 'caller' in the match of fault 1 of experiment 'x': a caller is <project>/<environment>, or an environment of this project",
    ]);
  });

  it('reads a disk-full fault only when the service has a tmp-size (the one disk it may fill), and reports it otherwise at its position', () => {
    const text = (service: string) =>
      [
        'pipeline:',
        '  jobs: { build: { steps: [make] } }',
        `service: ${service}`,
        'environments: { staging: {} }',
        'experiments:',
        '  fill: { environment: staging, hypothesis: { error-rate: { max: 1% } }, faults: [{ disk-full: { instances: 1 } }], duration: 1m }',
      ].join('\n');
    const config = parseConfig(text('{ run: x, tmp-size: 64MiB }'), 'gantry.yaml');
    expect(config.service?.tmpSizeBytes).toBe(64 * 1024 * 1024);
    expect(config.experiments?.[0]?.instanceFaults).toEqual([{ kind: 'disk-full', target: { count: 1 } }]);
    expect(validateConfig(text('{ run: x }'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
      "6:96: disk-full fills only an instance's /tmp held in memory: give the service a tmp-size (e.g. tmp-size: 64MiB), so that no real disk is ever filled",
    ]);
    expect(validateConfig(text('{ run: x, tmp-size: 16GiB }'), 'gantry.yaml').diagnostics.map((d) => d.message)).toEqual([
      "'tmp-size' in 'service': expected a size from 4KiB to 8GiB such as 64MiB, got '16GiB'",
    ]);
  });
});
