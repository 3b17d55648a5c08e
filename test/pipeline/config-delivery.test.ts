import { describe, expect, it } from 'vitest';
import type { EnvironmentConfig, ServiceConfig } from '../../src/core/delivery-config.ts';
import type { GantryConfig } from '../../src/core/types.ts';
import { latencyQuantile, percentageToFraction } from '../../src/pipeline/config-delivery-schema.ts';
import { parseConfig, validateConfig } from '../../src/pipeline/load-config.ts';
import { parseStoredConfig } from '../../src/pipeline/stored-config.ts';

const PIPELINE = ['pipeline:', '  jobs: { build: { steps: [make] } }'];

/** `line:col: message` for each diagnostic of a file made of the given lines. */
function problems(...lines: string[]): string[] {
  return validateConfig(lines.join('\n'), 'gantry.yaml').diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);
}

/** Problems of a file with a pipeline, a service and one environment `production` whose body is given (indented 4). */
function environmentProblems(...bodyLines: string[]): string[] {
  return problems(...PIPELINE, 'service: { run: x }', 'environments:', '  production:', ...bodyLines.map((line) => `    ${line}`));
}

/** Problems of a canary analysis whose body is given (indented 10 spaces); line 10 is the first body line. */
function analysisProblems(...bodyLines: string[]): string[] {
  return environmentProblems(
    'strategy:',
    '  canary:',
    '    steps: [{ weight: 10, pause: 1m }]',
    '    analysis:',
    ...bodyLines.map((line) => `      ${line}`),
  );
}

function parse(...lines: string[]): GantryConfig {
  return parseConfig(lines.join('\n'), 'gantry.yaml');
}

const READINESS = { intervalMs: 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3, initialDelayMs: 0 };
const LIVENESS = { intervalMs: 5000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3, initialDelayMs: 0 };
const ROLLING = { kind: 'rolling', maxSurge: 1, maxUnavailable: 0 } as const;

const FULL_EXAMPLE = `
pipeline:
  jobs: { build: { steps: [make] } }
service:
  run: node dist/server.js
  env: { LOG_LEVEL: info, WORKERS: 4 }
  instances: 2
  working-directory: dist
  health:
    path: /healthz
    readiness: { path: /ready, interval: 2s, timeout: 500ms, success-threshold: 2, failure-threshold: 4, initial-delay: 1s }
    liveness: { command: "curl -fs localhost:$PORT/live", interval: 10s, failure-threshold: 5 }
  stop: { signal: SIGINT, drain-timeout: 1m }
environments:
  staging: { auto: true }
  preview:
  production:
    approval: required
    port: 8080
    instances: 3
    env: { FEATURE_X: "on" }
    secrets: { DB_PASSWORD: PROD_DB_PASSWORD }
    strategy:
      canary:
        steps: [{ weight: 5, pause: 30s }, { weight: 25%, pause: 60 }, { weight: 50, pause: until-promoted }]
        match: [{ header: X-Canary, value: "true" }, { cookie: canary, regex: "^(always|yes)$" }, { header: x-tester }]
        analysis:
          error-rate: { max: 1%, max-increase: 0.5% }
          latency-p99: { max: 300ms, max-increase: 50ms }
          latency-p50: { max-increase: 0.02 }
          latency-p99.9: { max: 1s }
          prometheus: [{ name: saturation, query: 'avg(rate(cpu{version="$version"}[1m]))', max: 0.8 }, { name: hits, query: 'sum(x)', min: 1 }]
          min-requests: 100
          min-errors: 3
          window: 1m
          confidence: 99.9%
          inconclusive: continue
  blue:
    port: 8081
    approval: true
    strategy:
      blue-green:
        keep-old: 5m
        analysis: { error-rate: { max: 0.02 } }
  green:
    approval: false
    strategy: { blue-green: }
  batch:
    strategy: { recreate: }
  slow:
    strategy: { rolling: { max-surge: 0, max-unavailable: 1 } }
`;

const FULL_SERVICE: ServiceConfig = {
  run: 'node dist/server.js',
  env: { LOG_LEVEL: 'info', WORKERS: '4' },
  instances: 2,
  workingDirectory: 'dist',
  health: {
    readiness: { path: '/ready', intervalMs: 2000, timeoutMs: 500, successThreshold: 2, failureThreshold: 4, initialDelayMs: 1000 },
    liveness: {
      command: 'curl -fs localhost:$PORT/live',
      intervalMs: 10_000,
      timeoutMs: 1000,
      successThreshold: 1,
      failureThreshold: 5,
      initialDelayMs: 0,
    },
  },
  stop: { signal: 'SIGINT', drainTimeoutMs: 60_000 },
};

/** Unset optional fields are absent (not undefined), so toStrictEqual checks them too. */
const FULL_ENVIRONMENTS: Record<string, EnvironmentConfig> = {
  staging: { name: 'staging', approval: 'none', auto: true, strategy: ROLLING, env: {}, secrets: {} },
  preview: { name: 'preview', approval: 'none', auto: false, strategy: ROLLING, env: {}, secrets: {} },
  production: {
    name: 'production',
    approval: 'required',
    auto: false,
    port: 8080,
    instances: 3,
    env: { FEATURE_X: 'on' },
    secrets: { DB_PASSWORD: 'PROD_DB_PASSWORD' },
    strategy: {
      kind: 'canary',
      steps: [
        { weight: 5, pauseMs: 30_000 },
        { weight: 25, pauseMs: 60_000 },
        { weight: 50, pauseMs: null },
      ],
      match: [{ header: 'x-canary', value: 'true' }, { cookie: 'canary', regex: '^(always|yes)$' }, { header: 'x-tester' }],
      analysis: {
        errorRate: { max: 0.01, maxIncrease: 0.005 },
        latency: [
          { quantile: 0.99, maxMs: 300, maxIncreaseMs: 50 },
          { quantile: 0.5, maxIncreaseMs: 20 },
          { quantile: 0.999, maxMs: 1000 },
        ],
        prometheus: [
          { name: 'saturation', query: 'avg(rate(cpu{version="$version"}[1m]))', max: 0.8 },
          { name: 'hits', query: 'sum(x)', min: 1 },
        ],
        minRequests: 100,
        minErrors: 3,
        windowMs: 60_000,
        confidence: 0.999,
        onInconclusive: 'continue',
      },
    },
  },
  blue: {
    name: 'blue',
    approval: 'required',
    auto: false,
    port: 8081,
    env: {},
    secrets: {},
    strategy: {
      kind: 'blue-green',
      keepOldMs: 300_000,
      analysisMs: 60_000,
      analysis: {
        errorRate: { max: 0.02 },
        latency: [],
        prometheus: [],
        minRequests: 20,
        minErrors: 4,
        windowMs: 300_000,
        confidence: 0.99,
        onInconclusive: 'pause',
      },
    },
  },
  green: {
    name: 'green',
    approval: 'none',
    auto: false,
    env: {},
    secrets: {},
    strategy: { kind: 'blue-green', keepOldMs: 600_000, analysisMs: 0 },
  },
  batch: { name: 'batch', approval: 'none', auto: false, env: {}, secrets: {}, strategy: { kind: 'recreate' } },
  slow: {
    name: 'slow',
    approval: 'none',
    auto: false,
    env: {},
    secrets: {},
    strategy: { kind: 'rolling', maxSurge: 0, maxUnavailable: 1 },
  },
};

describe('service and environments: normalised', () => {
  it('normalises every field: camelCase, ms, fractions, quantiles, defaults', () => {
    const config = parseConfig(FULL_EXAMPLE, 'gantry.yaml');
    expect(config.service).toStrictEqual(FULL_SERVICE);
    expect(config.environments).toStrictEqual(FULL_ENVIRONMENTS);
    expect(Object.keys(config.environments ?? {})).toEqual(['staging', 'preview', 'production', 'blue', 'green', 'batch', 'slow']);
  });

  it('fills every default of a minimal service and an empty environment', () => {
    const config = parse(...PIPELINE, 'service: { run: ./start }', 'environments: { staging: {} }');
    expect(config.service).toStrictEqual({
      run: './start',
      env: {},
      instances: 1,
      health: { readiness: READINESS },
      stop: { signal: 'SIGTERM', drainTimeoutMs: 30_000 },
    });
    expect(config.environments).toStrictEqual({
      staging: { name: 'staging', approval: 'none', auto: false, strategy: ROLLING, env: {}, secrets: {} },
    });
  });

  it('reads health.path as both checks, and lets a check without path or command inherit it', () => {
    expect(parse(...PIPELINE, 'service: { run: x, health: { path: /healthz } }').service?.health).toStrictEqual({
      readiness: { path: '/healthz', ...READINESS },
      liveness: { path: '/healthz', ...LIVENESS },
    });
    expect(
      parse(...PIPELINE, 'service: { run: x, health: { path: /h, readiness: { interval: 3s }, liveness: { command: ./alive } } }').service
        ?.health,
    ).toStrictEqual({
      readiness: { path: '/h', ...READINESS, intervalMs: 3000 },
      liveness: { command: './alive', ...LIVENESS },
    });
  });

  it('checks readiness by TCP when no path or command is given, and has no liveness unless asked', () => {
    expect(parse(...PIPELINE, 'service: { run: x, health: { readiness: { initial-delay: 2s } } }').service?.health).toStrictEqual({
      readiness: { ...READINESS, initialDelayMs: 2000 },
    });
    expect(parse(...PIPELINE, 'service: { run: x, health: { liveness: {} } }').service?.health).toStrictEqual({
      readiness: READINESS,
      liveness: LIVENESS,
    });
  });

  it('reads rolling with its defaults and approval as true/false', () => {
    const config = parse(
      ...PIPELINE,
      'service: { run: x }',
      'environments:',
      '  a: { approval: none, strategy: { rolling: } }',
      '  b: { approval: true, strategy: { rolling: { max-unavailable: 2 } } }',
    );
    expect(config.environments?.a).toMatchObject({ approval: 'none', strategy: ROLLING });
    expect(config.environments?.b).toMatchObject({ approval: 'required', strategy: { kind: 'rolling', maxSurge: 1, maxUnavailable: 2 } });
  });

  it('reads a strategy that needs no settings by its name alone, with its defaults; a canary needs its steps', () => {
    const config = parse(
      ...PIPELINE,
      'service: { run: x }',
      'environments:',
      '  a: { strategy: recreate }',
      '  b: { strategy: rolling }',
      '  c: { strategy: blue-green }',
    );
    expect(config.environments?.a?.strategy).toEqual({ kind: 'recreate' });
    expect(config.environments?.b?.strategy).toEqual(ROLLING);
    expect(config.environments?.c?.strategy).toEqual(
      parse(...PIPELINE, 'service: { run: x }', 'environments:', '  c: { strategy: { blue-green: } }').environments?.c?.strategy,
    );
    expect(environmentProblems('strategy: canary')).toEqual([
      "6:15: 'strategy' in environment 'production': expected recreate, rolling, blue-green, or a map with one strategy (a canary needs its steps: { canary: { steps: [...] } }), got a string",
    ]);
  });

  it('turns percentages into exact fractions and reads percentile keys', () => {
    expect(percentageToFraction('1%')).toBe(0.01);
    expect(percentageToFraction('0.5%')).toBe(0.005);
    expect(percentageToFraction('99.9%')).toBe(0.999);
    expect(percentageToFraction('100%')).toBe(1);
    expect(latencyQuantile('latency-p99')).toBe(0.99);
    expect(latencyQuantile('latency-p50')).toBe(0.5);
    expect(latencyQuantile('latency-p05')).toBe(0.05);
    expect(latencyQuantile('latency-p999')).toBe(0.999);
    expect(latencyQuantile('latency-p99.99')).toBe(0.9999);
    for (const key of ['latency-p100', 'latency-p9', 'latency-p00', 'latency-99', 'latency-p99x', 'error-rate'])
      expect(latencyQuantile(key), key).toBeUndefined();
  });
});

describe('service and environments: errors at their line and column', () => {
  it('reports unknown keys with a suggestion in every map', () => {
    expect(
      problems(
        ...PIPELINE,
        'service:',
        '  rnu: x',
        '  health: { readines: { path: /r }, liveness: { intreval: 1s } }',
        '  stop: { signl: SIGINT }',
        'environments:',
        '  production:',
        '    aproval: required',
        '    strategy:',
        '      canery: { steps: [] }',
      ),
    ).toEqual([
      "4:3: unknown key 'rnu' in 'service' (did you mean 'run'?)",
      "5:13: unknown key 'readines' in 'service.health' (did you mean 'readiness'?)",
      "5:49: unknown key 'intreval' in 'service.health.liveness' (did you mean 'interval'?)",
      "6:11: unknown key 'signl' in 'service.stop' (did you mean 'signal'?)",
      "9:5: unknown key 'aproval' in environment 'production' (did you mean 'approval'?)",
      "11:7: unknown key 'canery' in the strategy of environment 'production' (did you mean 'canary'?)",
    ]);
    expect(
      analysisProblems(
        'windw: 30s',
        'error-rate: { maximum: 1% }',
        'latency-p99: { mx: 300ms }',
        'prometheus: [{ name: a, query: q, mx: 1 }]',
      ),
    ).toEqual([
      "10:11: unknown key 'windw' in the analysis of environment 'production' (did you mean 'window'?)",
      "11:25: unknown key 'maximum' in the error-rate check of environment 'production' (did you mean 'max'?)",
      "12:26: unknown key 'mx' in the latency-p99 check of environment 'production' (did you mean 'max'?)",
      "13:45: unknown key 'mx' in prometheus check 1 of environment 'production' (did you mean 'max'?)",
    ]);
    expect(environmentProblems('strategy:', '  canary:', '    steps: [{ weight: 10, pase: 1m }]', '    match: [{ headr: x }]')).toEqual([
      "8:31: unknown key 'pase' in canary step 1 of environment 'production' (did you mean 'pause'?)",
      "9:19: unknown key 'headr' in match rule 1 of environment 'production' (did you mean 'header'?)",
    ]);
  });

  it('reports wrong types and bad values in the service', () => {
    expect(
      problems(
        ...PIPELINE,
        'service:',
        '  run: [a]',
        '  instances: 0',
        '  working-directory: ../up',
        '  health:',
        '    path: healthz',
        '    readiness: { path: /r, command: ./ok }',
        '    liveness: { timeout: soon, failure-threshold: 1.5 }',
        '  stop: { signal: TERM }',
      ),
    ).toEqual([
      "4:8: 'run' in 'service': expected a command, got a list",
      "5:14: 'instances' in 'service': expected a number ≥ 1, got 0",
      "6:22: 'working-directory' in 'service': invalid working-directory '../up': use a path inside the release's artifacts (relative, without ..)",
      "8:11: 'path' in 'service.health': invalid path 'healthz': an HTTP path starts with / (e.g. /healthz)",
      "9:37: 'command' in 'service.health.readiness': give path or command, not both",
      "10:26: 'timeout' in 'service.health.liveness': invalid duration 'soon': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m",
      "10:51: 'failure-threshold' in 'service.health.liveness': expected an integer, got a number",
      "11:19: 'signal' in 'service.stop': expected 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2' or 'SIGKILL', got 'TERM'",
    ]);
    expect(problems(...PIPELINE, 'service: { instances: 2 }')).toEqual(["3:1: missing required key 'run' in 'service'"]);
  });

  it('reports bad environment names, approvals, ports, instances and secret names', () => {
    expect(
      problems(
        ...PIPELINE,
        'service: { run: x }',
        'environments:',
        '  Prod: {}',
        '  staging: { approval: maybe, auto: yes, port: 70000, instances: 0 }',
        '  qa: { secrets: { DB: db-password, 1X: y } }',
        '  dev: production',
      ),
    ).toEqual([
      "5:3: invalid environment name 'Prod': use lower-case letters, digits and -, starting with a letter",
      "6:24: 'approval' in environment 'staging': expected required or none (or true/false), got 'maybe'",
      "6:37: 'auto' in environment 'staging': expected true, false or a map (branches, tags), got a string",
      "6:48: 'port' in environment 'staging': expected a number ≤ 65535, got 70000",
      "6:66: 'instances' in environment 'staging': expected a number ≥ 1, got 0",
      "7:24: 'DB' in 'secrets' of environment 'qa': invalid secret name 'db-password': secret names are letters, digits and _, not starting with a digit (as `gantry secret set` accepts)",
      "7:37: invalid variable name '1X': use letters, digits and _, not starting with a digit",
      "8:8: environment 'dev': expected nothing or a map (approval, auto, strategy, port, instances, env, secrets, error-budget-policy, logs, target, placement), got a string",
    ]);
  });

  it("reads an environment's log budget, and reports a bad size or age where it is", () => {
    const env = (...lines: string[]) => parse(...PIPELINE, 'service: { run: x }', 'environments:', ...lines).environments?.production;
    expect(env('  production: { logs: { max-size: 2GiB, max-age: 7d } }')?.logs).toEqual({
      maxBytes: 2 * 1024 ** 3,
      maxAgeMs: 7 * 86_400_000,
    });
    expect(env('  production: { logs: { max-age: 12h } }')?.logs).toEqual({ maxAgeMs: 12 * 3_600_000 });
    expect(env('  production: {}')?.logs).toBeUndefined();
    expect(environmentProblems('logs: { max-size: 2 gigs, max-age: soon, keep: all }')).toEqual([
      "6:23: 'max-size' in 'logs' of environment 'production': expected a size such as 512MiB or 2GiB, got '2 gigs'",
      "6:40: 'max-age' in 'logs' of environment 'production': expected an age such as 12h, 14d or 2w, got 'soon'",
      "6:46: unknown key 'keep' in 'logs' of environment 'production'",
    ]);
    expect(environmentProblems('logs: { max-size: 100KiB }')).toEqual([
      "6:23: 'max-size' in 'logs' of environment 'production': expected at least 1MiB, got '100KiB'",
    ]);
  });

  it('needs exactly one strategy', () => {
    expect(environmentProblems('strategy: {}')).toEqual([
      "6:15: 'strategy' in environment 'production': expected one strategy: recreate, rolling, blue-green or canary",
    ]);
    expect(environmentProblems('strategy:', '  recreate:', '  canary: { steps: [{ weight: 5, pause: 1m }] }')).toEqual([
      "7:7: 'strategy' in environment 'production': choose one strategy, not 'recreate' and 'canary'",
    ]);
    expect(environmentProblems('strategy: { recreate: true, rolling: { max-surge: 0, max-unavailable: 0 } }')).toEqual([
      "6:27: 'recreate' in the strategy of environment 'production': expected nothing or {}, got a boolean",
      "6:42: 'rolling' in the strategy of environment 'production': max-surge and max-unavailable cannot both be 0 (the update could never progress)",
    ]);
  });

  it('checks canary steps: weights 0..100 that increase, pauses', () => {
    expect(
      environmentProblems(
        'strategy:',
        '  canary:',
        '    steps:',
        '      - { weight: 20, pause: 1m }',
        '      - { weight: 10, pause: 1m }',
        '      - { weight: 10, pause: until-promoted }',
        '      - { weight: 100, pause: 0 }',
      ),
    ).toEqual([
      "10:23: 'weight' in canary step 2 of environment 'production': weights must increase (step 1 has 20)",
      "11:23: 'weight' in canary step 3 of environment 'production': weights must increase (step 2 has 10)",
    ]);
    expect(environmentProblems('strategy: { canary: { steps: [{ weight: 0, pause: 1m }, { weight: 50 }] } }')).toEqual([
      "6:61: missing required key 'pause' in canary step 2 of environment 'production'",
    ]);
    expect(
      environmentProblems('strategy:', '  canary:', '    steps: [{ weight: 150, pause: 1m }, { weight: 5x, pause: forever }]'),
    ).toEqual([
      "8:27: 'weight' in canary step 1 of environment 'production': expected a percentage of traffic from 0 to 100, got 150",
      "8:55: 'weight' in canary step 2 of environment 'production': invalid percentage '5x': write it like 1% or 0.5%, or as a fraction such as 0.01",
      "8:66: 'pause' in canary step 2 of environment 'production': invalid pause 'forever': use a duration (30s, 5m, 1h30m, or seconds) or until-promoted",
    ]);
    expect(environmentProblems('strategy: { canary: { steps: [] } }')).toEqual([
      "6:34: 'steps' in the canary strategy of environment 'production': expected a list of steps ({ weight, pause }), got an empty list",
    ]);
  });

  it('checks match rules', () => {
    expect(
      environmentProblems(
        'strategy:',
        '  canary:',
        '    steps: [{ weight: 10, pause: 1m }]',
        '    match:',
        '      - { value: x }',
        '      - { header: x-a, cookie: b }',
        '      - { header: "x a" }',
        '      - { cookie: c, value: v, regex: "^v" }',
        '      - { header: x-b, regex: "(" }',
      ),
    ).toEqual([
      "10:13: match rule 1 of environment 'production': a match rule needs header or cookie",
      "11:36: 'cookie' in match rule 2 of environment 'production': give header or cookie, not both",
      "12:23: 'header' in match rule 3 of environment 'production': invalid header name 'x a': use letters, digits and - (no spaces or separators)",
      "13:43: 'regex' in match rule 4 of environment 'production': give value or regex, not both",
      "14:35: 'regex' in match rule 5 of environment 'production': invalid regex '(': unterminated group",
    ]);
  });

  it('checks the analysis: percentages, percentile keys, checks and options', () => {
    expect(
      analysisProblems(
        'error-rate: { max: 5, max-increase: 0.5%% }',
        'latency-99: { max: 300ms }',
        'latency-p99: { max: fast }',
        'latency-p990: { max: 1s }',
        'latency-p95: {}',
        'confidence: 100%',
        'inconclusive: wait',
        'min-requests: 0',
        'min-errors: 0',
      ),
    ).toEqual([
      "10:30: 'max' in the error-rate check of environment 'production': expected a fraction between 0 and 1 or a percentage up to 100%, got 5",
      "10:47: 'max-increase' in the error-rate check of environment 'production': invalid percentage '0.5%%': write it like 1% or 0.5%, or as a fraction such as 0.01",
      "11:11: invalid latency key 'latency-99': use latency-p<NN>, such as latency-p50, latency-p99 or latency-p999 (99.9%)",
      "12:31: 'max' in the latency-p99 check of environment 'production': invalid duration 'fast': use a number of seconds or a value like 500ms, 30s, 5m, 1h or 1h30m",
      "13:11: 'latency-p990' checks the same percentile as 'latency-p99'",
      "14:24: 'latency-p95' in the analysis of environment 'production': give max, max-increase or both",
      "15:23: 'confidence' in the analysis of environment 'production': expected a confidence above 0% and below 100% (such as 99%), got 100%",
      "16:25: 'inconclusive' in the analysis of environment 'production': expected 'pause' or 'continue', got 'wait'",
      "17:25: 'min-requests' in the analysis of environment 'production': expected a number ≥ 1, got 0",
      "18:23: 'min-errors' in the analysis of environment 'production': expected a number ≥ 1, got 0",
    ]);
    expect(
      analysisProblems(
        'prometheus:',
        '  - { name: cpu, query: q }',
        '  - { name: cpu, query: q, min: 2, max: 1 }',
        '  - { name: 9x, query: "" }',
      ),
    ).toEqual([
      "11:15: prometheus check 1 of environment 'production': give min, max or both",
      "12:23: 'name' in prometheus check 2 of environment 'production': duplicate check name 'cpu' (check 1 already uses it)",
      "12:51: 'max' in prometheus check 2 of environment 'production': max (1) is below min (2)",
      "13:23: 'name' in prometheus check 3 of environment 'production': invalid check name '9x': use letters, digits, - and _, starting with a letter or _",
      "13:34: 'query' in prometheus check 3 of environment 'production': expected a non-empty string, got an empty string",
    ]);
    expect(analysisProblems('window: 30s')).toEqual([
      "10:11: 'analysis' in the canary strategy of environment 'production': an analysis needs at least one check: error-rate, latency-p<NN>, slo or prometheus",
    ]);
  });

  it("refuses ${{ }} in a service's command and env, which reach the instance as written; a stored release keeps loading", () => {
    const lines = [
      ...PIPELINE,
      'service:',
      '  run: ./start --tag ${{ gantry.ref_name }}',
      '  env: { VERSION: "v-${{ gantry.sha }}", PLAIN: "$HOME" }',
      'environments:',
      '  production: { env: { REF: "${{ gantry.ref }}" } }',
    ];
    const explained =
      'is evaluated in the pipeline only (an instance finds its release in $GANTRY_RELEASE_REF, $GANTRY_RELEASE_SHA and $GANTRY_RELEASE_NUMBER)';
    expect(problems(...lines)).toEqual([
      `4:22: 'service.run' is passed to the service as written: \${{ }} ${explained}`,
      `5:22: 'service.env.VERSION' is passed to the service as written: \${{ }} ${explained}`,
      `7:30: 'environments.production.env.REF' is passed to the service as written: \${{ }} ${explained}`,
    ]);
    expect(parseStoredConfig(lines.join('\n')).service?.env).toEqual({ VERSION: 'v-${{ gantry.sha }}', PLAIN: '$HOME' });
  });

  it('checks across sections: a service for the environments, distinct ports, PORT, env and secrets', () => {
    expect(problems(...PIPELINE, 'environments:', '  staging: {}')).toEqual([
      "3:1: environments need a service to deploy: add a 'service' section with its 'run' command",
    ]);
    expect(
      problems(
        ...PIPELINE,
        'service: { run: x, env: { PORT: 80 } }',
        'environments:',
        '  staging: { port: 8080 }',
        '  qa: { port: 9090 }',
        '  production: { port: 8080, env: { A: a }, secrets: { A: A_SECRET, PORT: P } }',
      ),
    ).toEqual([
      "3:27: 'PORT' is set by Gantry for each instance: remove it and read $PORT in the service",
      "7:23: port 8080 is already used by environment 'staging'",
      "7:55: 'A' is in both env and secrets of environment 'production': keep one",
      "7:68: 'PORT' is set by Gantry for each instance: remove it and read $PORT in the service",
    ]);
  });

  it('reports delivery problems together with pipeline problems', () => {
    expect(problems('pipeline:', '  jobs: { build: { steps: [make], nedds: [] } }', 'service: { run: x, instances: none }')).toEqual([
      "2:35: unknown key 'nedds' in job 'build' (did you mean 'needs'?)",
      "3:31: 'instances' in 'service': expected a number, got a string",
    ]);
  });
});
