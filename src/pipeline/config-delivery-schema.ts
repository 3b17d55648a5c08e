/**
 * The `service` and `environments` sections of gantry.yaml: the raw YAML as users write it
 * (kebab-case keys, `1%`, `30s`, `until-promoted`, `latency-p99`) in, the normalised
 * ServiceConfig / EnvironmentConfig of src/core/delivery-config.ts out, every default filled.
 * Key names and defaults follow Kubernetes probes, Argo Rollouts and Flagger where they exist.
 * Checks across sections (a service for the environments, distinct ports) live in
 * config-delivery-checks.ts.
 */
import { z } from 'zod';
import type {
  AnalysisConfig,
  CanaryStepConfig,
  EnvironmentConfig,
  HealthCheckConfig,
  LatencyCheckConfig,
  MatchRule,
  NodeSignal,
  PrometheusCheckConfig,
  SloBurnCheckConfig,
  ServiceConfig,
  StrategyConfig,
} from '../core/delivery-config.ts';
import { ANALYSIS_DEFAULTS } from '../core/delivery-config.ts';
import { InputError } from '../core/errors.ts';
import {
  compact,
  configErrorMap,
  describeValue,
  duration,
  envMap,
  envName,
  ENV_NAME_PATTERN,
  expected,
  idString,
  scalar,
  stringOrList,
} from './config-common.ts';
import { gatewayMap, kubernetesMap, targetMap, targetSchema } from './config-kubernetes-schema.ts';
import { placementMap, placementSchema } from './config-placement-schema.ts';
import { parseDuration } from './durations.ts';
import { byteSize } from '../core/byte-size.ts';
import { spanMs } from '../core/span.ts';

// ---------------------------------------------------------------- values

/**
 * For refinements that judge a map as a whole ("give max or max-increase"): run them only when
 * its keys parsed cleanly, so a misspelt key is reported once, with its suggestion.
 */
const whenClean = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

const PERCENTAGE = /^(\d+(?:\.\d+)?)\s*%$/;

/** `1%` → 0.01, `0.5%` → 0.005, exactly (a decimal shift, not a division that would give 0.9990000000000001). */
export function percentageToFraction(text: string): number {
  const digits = PERCENTAGE.exec(text.trim())?.[1];
  if (digits === undefined) throw new InputError(`invalid percentage '${text}': write it like 1% or 0.5%`);
  return Number(`${digits}e-2`);
}

const percentageString = z.string().regex(PERCENTAGE, {
  error: (issue) => `invalid percentage '${String(issue.input)}': write it like 1% or 0.5%, or as a fraction such as 0.01`,
});

/** A rate: a percentage (`1%`) or a fraction (`0.01`), normalised to a fraction 0..1. */
export const rate = z
  .union([z.number(), percentageString], expected('a percentage such as 1% or a fraction such as 0.01'))
  .transform((value, ctx) => {
    const fraction = typeof value === 'number' ? value : percentageToFraction(value);
    if (!(fraction >= 0 && fraction <= 1)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a fraction between 0 and 1 or a percentage up to 100%, got ${String(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    return fraction;
  });

/** A confidence level: like a rate, but strictly between 0 and 1 (0.99 = 99%). */
const confidence = z
  .union([z.number(), percentageString], expected('a percentage such as 99% or a fraction such as 0.99'))
  .transform((value, ctx) => {
    const fraction = typeof value === 'number' ? value : percentageToFraction(value);
    if (!(fraction > 0 && fraction < 1)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a confidence above 0% and below 100% (such as 99%), got ${String(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    return fraction;
  });

/** A traffic weight in percent (0..100): `5` or `5%` both mean five percent. */
const weight = z.union([z.number(), percentageString], expected('a percentage of traffic (0 to 100)')).transform((value, ctx) => {
  const percent = typeof value === 'number' ? value : Number(PERCENTAGE.exec(value.trim())?.[1]);
  if (!(percent >= 0 && percent <= 100)) {
    ctx.addIssue({ code: 'custom', message: `expected a percentage of traffic from 0 to 100, got ${String(value)}`, input: value });
    return z.NEVER;
  }
  return percent;
});

/** A canary step's pause: a duration, or `until-promoted` (null: wait for `gantry rollout promote`). */
const pause = z.union([z.string(), z.number()], expected('a duration such as 30s or until-promoted')).transform((value, ctx) => {
  if (value === 'until-promoted') return null;
  try {
    return parseDuration(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `invalid pause '${String(value)}': use a duration (30s, 5m, 1h30m, or seconds) or until-promoted`,
      input: value,
    });
    return z.NEVER;
  }
});

const httpPath = z.string(expected('an HTTP path such as /healthz')).regex(/^\/\S*$/, {
  error: (issue) => `invalid path '${String(issue.input)}': an HTTP path starts with / (e.g. /healthz)`,
});

const relativeDirectory = z
  .string(expected('a relative path'))
  .refine((value) => value !== '' && !value.startsWith('/') && !value.split('/').includes('..'), {
    error: (issue) =>
      `invalid working-directory '${String(issue.input)}': use a path inside the release's artifacts (relative, without ..)`,
  });

const secretName = z.string(expected('a secret name')).regex(ENV_NAME_PATTERN, {
  error: (issue) =>
    `invalid secret name '${String(issue.input)}': secret names are letters, digits and _, not starting with a digit (as \`gantry secret set\` accepts)`,
});

/** An HTTP token (RFC 9110), which header and cookie names must be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function tokenName(what: string): z.ZodString {
  return z.string(expected(`a ${what} name`)).regex(TOKEN, {
    error: (issue) => `invalid ${what} name '${String(issue.input)}': use letters, digits and - (no spaces or separators)`,
  });
}

const regexSource = z.string(expected('a regular expression')).superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid regex '${value}': ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '').toLowerCase()}`,
      input: value,
    });
  }
});

// ---------------------------------------------------------------- service

/** The signals `service.stop.signal` accepts (what Node can send a child). */
export const NODE_SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGQUIT',
  'SIGHUP',
  'SIGUSR1',
  'SIGUSR2',
  'SIGKILL',
] as const satisfies readonly NodeSignal[];

type CheckTiming = Omit<HealthCheckConfig, 'path' | 'command'>;

/** Readiness is checked often so a new instance takes traffic soon after it is up. */
export const READINESS_DEFAULTS: Readonly<CheckTiming> = {
  intervalMs: 1000,
  timeoutMs: 1000,
  successThreshold: 1,
  failureThreshold: 3,
  initialDelayMs: 0,
};
/** Liveness less often: a restart is costly, and a slow check must not kill a busy instance. */
export const LIVENESS_DEFAULTS: Readonly<CheckTiming> = {
  intervalMs: 5000,
  timeoutMs: 1000,
  successThreshold: 1,
  failureThreshold: 3,
  initialDelayMs: 0,
};
/** SIGTERM, then SIGKILL after 30 s (Kubernetes' terminationGracePeriodSeconds). */
export const STOP_DEFAULTS: Readonly<ServiceConfig['stop']> = { signal: 'SIGTERM', drainTimeoutMs: 30_000 };

function healthCheckMap(kind: 'readiness' | 'liveness', defaults: CheckTiming) {
  const seconds = (ms: number): string => `${ms / 1000}s`;
  return z
    .strictObject(
      {
        path: httpPath
          .optional()
          .describe("HTTP path to GET on the instance's $PORT; a 2xx or 3xx answer passes. Default: health.path when set."),
        command: z.string().min(1).optional().describe('A shell command (bash -c, with $PORT set) instead of path; exit 0 passes.'),
        interval: duration.optional().describe(`Time between checks (default ${seconds(defaults.intervalMs)}).`),
        timeout: duration.optional().describe(`A check taking longer fails (default ${seconds(defaults.timeoutMs)}).`),
        'success-threshold': z
          .int()
          .min(1)
          .optional()
          .describe(`Consecutive passes to count as healthy (default ${defaults.successThreshold}).`),
        'failure-threshold': z
          .int()
          .min(1)
          .optional()
          .describe(`Consecutive failures to count as unhealthy (default ${defaults.failureThreshold}).`),
        'initial-delay': duration
          .optional()
          .describe(`Wait this long after start before the first check (default ${seconds(defaults.initialDelayMs)}).`),
      },
      expected('a map (path or command, interval, timeout, thresholds)'),
    )
    .superRefine((raw, ctx) => {
      if (raw.path !== undefined && raw.command !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['command'], message: 'give path or command, not both', input: raw.command });
      }
    })
    .describe(
      kind === 'readiness'
        ? 'When an instance may take traffic. With neither path nor command (and no health.path) it passes once $PORT accepts a TCP connection.'
        : 'When an instance is restarted: after failure-threshold failures in a row. With neither path nor command it uses health.path, or a TCP connection to $PORT.',
    );
}

const readinessMap = healthCheckMap('readiness', READINESS_DEFAULTS);
const livenessMap = healthCheckMap('liveness', LIVENESS_DEFAULTS);
type RawCheck = z.output<typeof readinessMap>;

/** A check's YAML with its defaults; a check naming neither path nor command uses health.path (or TCP when none). */
function toHealthCheck(raw: RawCheck, defaults: CheckTiming, fallbackPath: string | undefined): HealthCheckConfig {
  const probe = raw.path !== undefined || raw.command !== undefined ? { path: raw.path, command: raw.command } : { path: fallbackPath };
  return compact({
    ...probe,
    intervalMs: raw.interval ?? defaults.intervalMs,
    timeoutMs: raw.timeout ?? defaults.timeoutMs,
    successThreshold: raw['success-threshold'] ?? defaults.successThreshold,
    failureThreshold: raw['failure-threshold'] ?? defaults.failureThreshold,
    initialDelayMs: raw['initial-delay'] ?? defaults.initialDelayMs,
  });
}

const healthMap = z
  .strictObject(
    {
      path: httpPath
        .optional()
        .describe(
          'Shorthand: check readiness AND liveness by GET on this path (each with its defaults), unless readiness or liveness say otherwise.',
        ),
      readiness: readinessMap.optional(),
      liveness: livenessMap.optional(),
    },
    expected('a map (path, readiness, liveness)'),
  )
  .describe(
    'Health checks. Without any, an instance is ready once $PORT accepts TCP connections and is never restarted for being unhealthy (only when it exits).',
  );

const stopMap = z
  .strictObject(
    {
      signal: z.enum(NODE_SIGNALS).optional().describe('The signal asking an instance to stop (default SIGTERM).'),
      'drain-timeout': duration
        .optional()
        .describe('How long an instance may take to finish its requests and exit after the signal, before SIGKILL (default 30s).'),
    },
    expected('a map (signal, drain-timeout)'),
  )
  .describe('How instances are stopped: no new requests, then the signal, then SIGKILL after drain-timeout.');

/** The most memory a /tmp may hold: it is RAM, whoever fills it. */
const MAX_TMP_BYTES = 8 * 2 ** 30;

const tmpSize = z.union([z.string(), z.number()], expected('a size such as 64MiB')).transform((value, ctx) => {
  const bytes = byteSize(String(value));
  if (bytes !== null && bytes >= 4096 && bytes <= MAX_TMP_BYTES) return bytes;
  ctx.addIssue({ code: 'custom', message: `expected a size from 4KiB to 8GiB such as 64MiB, got '${value}'`, input: value });
  return z.NEVER;
});

const serviceMap = z.strictObject(
  {
    run: z.string(expected('a command')).min(1).describe('The command (bash -c) that starts one instance. It must listen on $PORT.'),
    env: envMap.optional(),
    instances: z
      .int()
      .min(1)
      .default(1)
      .describe('How many instances run in each environment (default 1; an environment may override it).'),
    'working-directory': relativeDirectory
      .optional()
      .describe("Where run starts, relative to the release's artifacts (default: their root)."),
    health: healthMap.optional(),
    stop: stopMap.optional(),
    'tmp-size': tmpSize
      .optional()
      .describe(
        "Give each instance a /tmp of this size held in memory (emptied at each start) instead of one on disk, e.g. 64MiB; a chaos experiment's disk-full fault fills it, never a real disk. Needs the sandbox (bubblewrap).",
      ),
  },
  expected('a map with run'),
);

/** raw `service:` → ServiceConfig. */
export const serviceSchema = serviceMap
  .transform((raw): ServiceConfig => {
    const health = raw.health ?? {};
    const sharedPath = health.path;
    const readiness = toHealthCheck(health.readiness ?? {}, READINESS_DEFAULTS, sharedPath);
    const liveness =
      health.liveness !== undefined || sharedPath !== undefined
        ? toHealthCheck(health.liveness ?? {}, LIVENESS_DEFAULTS, sharedPath)
        : undefined;
    return compact({
      run: raw.run,
      env: raw.env ?? {},
      instances: raw.instances,
      workingDirectory: raw['working-directory'],
      tmpSizeBytes: raw['tmp-size'],
      health: compact({ readiness, liveness }),
      stop: {
        signal: raw.stop?.signal ?? STOP_DEFAULTS.signal,
        drainTimeoutMs: raw.stop?.['drain-timeout'] ?? STOP_DEFAULTS.drainTimeoutMs,
      },
    });
  })
  .describe("How the service runs: one command per instance, each on its own $PORT, behind Gantry's proxy.");

// ---------------------------------------------------------------- analysis

/**
 * `latency-p99` (0.99), `latency-p50` (0.5), `latency-p999` or `latency-p99.9` (0.999): two digits
 * at least, read as the digits after "0."; not `latency-p100` (that is the maximum, use max).
 */
export const LATENCY_KEY = /^latency-p(?!100)(?![0.]+$)(\d{2})(\d+|\.\d+)?$/;

/** The quantile a latency key names, or undefined when the key does not match LATENCY_KEY. */
export function latencyQuantile(key: string): number | undefined {
  const match = LATENCY_KEY.exec(key);
  if (match === null) return undefined;
  return Number(`0.${match[1] ?? ''}${(match[2] ?? '').replace('.', '')}`);
}

const errorRateMap = z
  .strictObject(
    {
      max: rate.optional().describe('Highest acceptable 5xx rate of the canary, e.g. 1% (or 0.01).'),
      'max-increase': rate
        .optional()
        .describe(
          'Highest acceptable canary − baseline 5xx rate in the same window, e.g. 0.5%; judged with a sequential test whose false rollbacks stay below 1 − the analysis confidence however long the canary runs. A canary worse than the baseline but within this allowance can still be rolled back when its noisy rate crosses it: set about twice a regression you accept.',
        ),
    },
    expected('a map (max, max-increase)'),
  )
  .superRefine((raw, ctx) => {
    if (raw.max === undefined && raw['max-increase'] === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give max, max-increase or both', input: raw });
    }
  }, whenClean)
  .describe('Check the 5xx rate of the canary against a bound and against the baseline.');

const latencyMap = z
  .strictObject(
    {
      max: duration.optional().describe('Highest acceptable value of this percentile for the canary, e.g. 300ms.'),
      'max-increase': duration
        .optional()
        .describe('Highest acceptable canary − baseline difference of this percentile in the same window, e.g. 50ms.'),
    },
    expected('a map (max, max-increase)'),
  )
  .superRefine((raw, ctx) => {
    if (raw.max === undefined && raw['max-increase'] === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give max, max-increase or both', input: raw });
    }
  }, whenClean)
  .describe(
    'Check a latency percentile (the key names it: latency-p50, latency-p99, latency-p999 for 99.9%) against a bound and against the baseline.',
  );

const prometheusCheckMap = z
  .strictObject(
    {
      name: idString('check name').describe('A name for the check, shown in rollout status and events; unique within the analysis.'),
      query: z.string().min(1).describe('PromQL returning a scalar or one series; $version and $environment are substituted.'),
      min: z.number().optional().describe('The check fails when the value is below this.'),
      max: z.number().optional().describe('The check fails when the value is above this.'),
    },
    expected('a map with name, query and min or max'),
  )
  .superRefine((raw, ctx) => {
    if (raw.min === undefined && raw.max === undefined) ctx.addIssue({ code: 'custom', message: 'give min, max or both', input: raw });
    else if (raw.min !== undefined && raw.max !== undefined && raw.min > raw.max) {
      ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${raw.max}) is below min (${raw.min})`, input: raw.max });
    }
  }, whenClean)
  .transform((raw): PrometheusCheckConfig => compact(raw))
  .describe('A Prometheus query whose value must stay within bounds.');

const prometheusChecks = z
  .array(prometheusCheckMap, expected('a list of checks'))
  .superRefine((checks, ctx) => {
    const seen = new Map<string, number>();
    checks.forEach((check, index) => {
      const earlier = seen.get(check.name);
      if (earlier === undefined) seen.set(check.name, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `duplicate check name '${check.name}' (check ${earlier + 1} already uses it)`,
          input: check.name,
        });
    });
  })
  .describe('Checks on Prometheus queries (through its HTTP API).');

const sloCheckMap = z
  .strictObject(
    {
      name: idString('SLO name').describe(
        "The name of an SLO in 'slos' with an availability or latency SLI (the proxy measures those per pool).",
      ),
      'max-burn-rate': z
        .number()
        .positive()
        .describe(
          "Fail when the canary's own burn rate over the analysis window is above this, e.g. 14.4 (the SRE workbook's fast-burn page: 2 % of a 30-day budget in an hour); judged with a statistical test at the analysis confidence.",
        ),
    },
    expected('a map with name and max-burn-rate'),
  )
  .transform((raw): SloBurnCheckConfig => ({ name: raw.name, maxBurnRate: raw['max-burn-rate'] }))
  .describe("Check the canary's burn rate of an SLO's error budget.");

/** Defaults of an analysis: enough requests and errors for a test to mean something, a window that grows from the canary's start. */
export { ANALYSIS_DEFAULTS };

const ANALYSIS_FIXED_KEYS = [
  'error-rate',
  'prometheus',
  'slo',
  'min-requests',
  'min-errors',
  'window',
  'confidence',
  'inconclusive',
] as const;

/** The analysis map before normalisation; exported so the JSON Schema can describe its `latency-p<NN>` keys. */
export const analysisMap = z
  .object(
    {
      'error-rate': errorRateMap.optional(),
      prometheus: prometheusChecks.optional(),
      slo: sloCheckMap.optional(),
      'min-requests': z
        .int()
        .min(1)
        .optional()
        .describe(`Fewer canary requests than this in the window make the result inconclusive (default ${ANALYSIS_DEFAULTS.minRequests}).`),
      'min-errors': z
        .int()
        .min(1)
        .optional()
        .describe(
          `The least evidence a rollback needs: with fewer canary errors than this in the window, the error-rate checks pass (default ${ANALYSIS_DEFAULTS.minErrors}).`,
        ),
      window: duration
        .optional()
        .describe(
          `The window the checks look at, counted from the rollout's start (default ${ANALYSIS_DEFAULTS.windowMs / 60_000}m: everything since the canary began, up to the five minutes of metrics the proxy keeps). A short window reacts sooner to a canary that turns bad late, but every check on it is a fresh chance to fail a healthy canary on noise.`,
        ),
      confidence: confidence
        .optional()
        .describe(
          `1 − the false-alarm rate, e.g. 99% or 0.99 (default ${ANALYSIS_DEFAULTS.confidence * 100}%): over the whole analysis for error-rate max-increase (a sequential test), at each look for the other checks. Higher spares more healthy canaries and catches bad ones later.`,
        ),
      inconclusive: z
        .enum(['pause', 'continue'])
        .optional()
        .describe("What a step does when its time is up with too little traffic to decide: 'pause' for a human (default) or 'continue'."),
    },
    expected('a map of checks (error-rate, latency-p99, prometheus, …)'),
  )
  .catchall(z.unknown())
  .superRefine(
    (raw, ctx) => {
      const quantiles = new Map<number, string>();
      for (const [key, value] of Object.entries(raw)) {
        if ((ANALYSIS_FIXED_KEYS as readonly string[]).includes(key)) continue;
        const quantile = latencyQuantile(key);
        if (quantile === undefined && key.startsWith('latency')) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { at: 'key' },
            message: `invalid latency key '${key}': use latency-p<NN>, such as latency-p50, latency-p99 or latency-p999 (99.9%)`,
            input: key,
          });
        } else if (quantile === undefined) {
          ctx.addIssue({ code: 'unrecognized_keys', keys: [key], input: raw });
        } else if (quantiles.has(quantile)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            params: { at: 'key' },
            message: `'${key}' checks the same percentile as '${quantiles.get(quantile) ?? ''}'`,
            input: key,
          });
        } else {
          quantiles.set(quantile, key);
          const result = latencyMap.safeParse(value, { error: configErrorMap, reportInput: true });
          for (const issue of result.error?.issues ?? []) ctx.addIssue({ ...issue, path: [key, ...issue.path] });
        }
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  )
  .superRefine((raw, ctx) => {
    const hasLatency = Object.keys(raw).some((key) => latencyQuantile(key) !== undefined);
    if (raw['error-rate'] === undefined && raw.prometheus === undefined && raw.slo === undefined && !hasLatency) {
      ctx.addIssue({
        code: 'custom',
        message: 'an analysis needs at least one check: error-rate, latency-p<NN>, slo or prometheus',
        input: raw,
      });
    }
  }, whenClean);

/** The schema of one `latency-p<NN>` value, for the JSON Schema's patternProperties. */
export const latencyCheckSchema = latencyMap;

const analysis = analysisMap
  .transform((raw): AnalysisConfig => {
    const latency: LatencyCheckConfig[] = [];
    for (const [key, value] of Object.entries(raw)) {
      const quantile = latencyQuantile(key);
      if (quantile === undefined) continue;
      // A latency check with a problem was reported by the refinement above; zod still runs this
      // transform when the only problems are unknown keys, so skip rather than throw.
      const check = latencyMap.safeParse(value);
      if (!check.success) continue;
      latency.push(compact({ quantile, maxMs: check.data.max, maxIncreaseMs: check.data['max-increase'] }));
    }
    const errorRate = raw['error-rate'];
    return compact({
      errorRate: errorRate === undefined ? undefined : compact({ max: errorRate.max, maxIncrease: errorRate['max-increase'] }),
      latency,
      prometheus: raw.prometheus ?? [],
      slo: raw.slo,
      minRequests: raw['min-requests'] ?? ANALYSIS_DEFAULTS.minRequests,
      minErrors: raw['min-errors'] ?? ANALYSIS_DEFAULTS.minErrors,
      windowMs: raw.window ?? ANALYSIS_DEFAULTS.windowMs,
      confidence: raw.confidence ?? ANALYSIS_DEFAULTS.confidence,
      onInconclusive: raw.inconclusive ?? ANALYSIS_DEFAULTS.onInconclusive,
    });
  })
  .describe(
    'Automated analysis of the new version against the stable one (the baseline) on live requests. Keys: error-rate, latency-p<NN> (latency-p50, latency-p99, latency-p999 …), slo, prometheus, and the options. A failed check rolls back at once.',
  );

// ---------------------------------------------------------------- strategies

const STRATEGY_KEYS = ['recreate', 'rolling', 'blue-green', 'canary'] as const;

/** The strategy of an environment that names none: Kubernetes' RollingUpdate, one instance at a time, never below capacity. */
export const DEFAULT_STRATEGY: Readonly<Extract<StrategyConfig, { kind: 'rolling' }>> = { kind: 'rolling', maxSurge: 1, maxUnavailable: 0 };
/** Keep the old pool long enough for an instant rollback after a blue-green switch. */
export const BLUE_GREEN_DEFAULTS = { keepOldMs: 600_000, analysisMs: 60_000 } as const;

const recreateMap = z
  .strictObject({}, expected('nothing or {}'))
  .nullable()
  .describe('Stop every old instance, then start the new ones: simple, with a gap in service.');

const rollingMap = z
  .strictObject(
    {
      'max-surge': z.int().min(0).optional().describe('How many instances above the desired count may run during the update (default 1).'),
      'max-unavailable': z
        .int()
        .min(0)
        .optional()
        .describe('How many instances below the desired count may be ready during the update (default 0).'),
    },
    expected('nothing or a map (max-surge, max-unavailable)'),
  )
  .superRefine((raw, ctx) => {
    if ((raw['max-surge'] ?? DEFAULT_STRATEGY.maxSurge) === 0 && (raw['max-unavailable'] ?? DEFAULT_STRATEGY.maxUnavailable) === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'max-surge and max-unavailable cannot both be 0 (the update could never progress)',
        input: raw,
      });
    }
  }, whenClean)
  .nullable()
  .describe(
    'Replace instances a few at a time, each new one taking traffic once ready (default strategy: max-surge 1, max-unavailable 0).',
  );

const blueGreenMap = z
  .strictObject(
    {
      'keep-old': duration
        .optional()
        .describe('How long the old pool keeps running after the switch, for an instant rollback (default 10m).'),
      analysis: analysis.optional(),
      'analysis-duration': duration
        .optional()
        .describe(
          'How long the analysis watches the new pool after the switch; a failure switches back (default 1m with analysis, else 0).',
        ),
    },
    expected('nothing or a map (keep-old, analysis, analysis-duration)'),
  )
  .nullable()
  .describe('Start a full new pool, switch all traffic to it once it is ready, keep the old pool for a while.');

const canaryStepMap = z
  .strictObject(
    {
      weight: weight.describe('Percent of traffic (0 to 100; 5 or 5%) on the new version during this step. Weights must increase.'),
      pause: pause.describe(
        'How long the step lasts (30s, 5m) while analysis runs, or until-promoted to wait for `gantry rollout promote`.',
      ),
    },
    expected('a map with weight and pause'),
  )
  .transform((raw): CanaryStepConfig => ({ weight: raw.weight, pauseMs: raw.pause }))
  .describe('A canary step: a traffic weight held for a while.');

const canarySteps = z
  .array(canaryStepMap, expected('a list of steps ({ weight, pause })'))
  .min(1)
  .superRefine((steps, ctx) => {
    steps.forEach((step, index) => {
      const previous = steps[index - 1];
      if (previous !== undefined && step.weight <= previous.weight) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'weight'],
          message: `weights must increase (step ${index} has ${previous.weight})`,
          input: step.weight,
        });
      }
    });
  })
  .describe('The weights the canary goes through, in order; after the last step it is promoted to all traffic.');

const matchRuleMap = z
  .strictObject(
    {
      header: tokenName('header').optional().describe('A request header name (case-insensitive; kept in lower case).'),
      cookie: tokenName('cookie').optional().describe('A cookie name.'),
      value: scalar
        .transform((value) => String(value))
        .optional()
        .describe('The exact value to match; without value or regex, the header or cookie just has to be present.'),
      regex: regexSource
        .optional()
        .describe('A regular expression the value must match (JavaScript syntax; matches anywhere unless anchored with ^ and $).'),
    },
    expected('a map with header or cookie, and value or regex'),
  )
  .superRefine((raw, ctx) => {
    if (raw.header === undefined && raw.cookie === undefined)
      ctx.addIssue({ code: 'custom', message: 'a match rule needs header or cookie', input: raw });
    if (raw.header !== undefined && raw.cookie !== undefined)
      ctx.addIssue({ code: 'custom', path: ['cookie'], message: 'give header or cookie, not both', input: raw.cookie });
    if (raw.value !== undefined && raw.regex !== undefined)
      ctx.addIssue({ code: 'custom', path: ['regex'], message: 'give value or regex, not both', input: raw.regex });
  }, whenClean)
  .transform((raw): MatchRule => {
    const condition = compact({ value: raw.value, regex: raw.regex });
    return raw.header !== undefined ? { header: raw.header.toLowerCase(), ...condition } : { cookie: raw.cookie ?? '', ...condition };
  })
  .describe('Requests matching this rule go to the canary whatever its weight (A/B tests, testers).');

const canaryMap = z
  .strictObject(
    {
      steps: canarySteps,
      match: z
        .array(matchRuleMap, expected('a list of rules'))
        .optional()
        .describe('Requests that always go to the canary (any rule matching is enough).'),
      analysis: analysis.optional(),
    },
    expected('a map with steps'),
  )
  .describe('Shift traffic to the new version step by step, with analysis at each step; a failed check rolls back at once.');

const strategyMap = z
  .strictObject(
    {
      recreate: recreateMap.optional(),
      rolling: rollingMap.optional(),
      'blue-green': blueGreenMap.optional(),
      canary: canaryMap.optional(),
    },
    expected('a map with one strategy: recreate, rolling, blue-green or canary'),
  )
  .superRefine((raw, ctx) => {
    const given = STRATEGY_KEYS.filter((key) => raw[key] !== undefined);
    if (given.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'expected one strategy: recreate, rolling, blue-green or canary', input: raw });
    }
    if (given.length > 1) {
      const names = given
        .map((key) => `'${key}'`)
        .join(', ')
        .replace(/, ([^,]*)$/, ' and $1');
      ctx.addIssue({ code: 'custom', message: `choose one strategy, not ${names}`, input: raw });
    }
  }, whenClean)
  .transform((raw): StrategyConfig => {
    if (raw.canary !== undefined) {
      return compact({ kind: 'canary', steps: raw.canary.steps, analysis: raw.canary.analysis, match: raw.canary.match ?? [] });
    }
    if (raw['blue-green'] !== undefined) {
      const blueGreen = raw['blue-green'] ?? {};
      return compact({
        kind: 'blue-green',
        keepOldMs: blueGreen['keep-old'] ?? BLUE_GREEN_DEFAULTS.keepOldMs,
        analysis: blueGreen.analysis,
        analysisMs: blueGreen['analysis-duration'] ?? (blueGreen.analysis === undefined ? 0 : BLUE_GREEN_DEFAULTS.analysisMs),
      });
    }
    if (raw.rolling !== undefined) {
      return {
        kind: 'rolling',
        maxSurge: raw.rolling?.['max-surge'] ?? DEFAULT_STRATEGY.maxSurge,
        maxUnavailable: raw.rolling?.['max-unavailable'] ?? DEFAULT_STRATEGY.maxUnavailable,
      };
    }
    return { kind: 'recreate' };
  })
  .describe(
    'How a new release replaces the running one: one of recreate, rolling, blue-green or canary (default: rolling, max-surge 1, max-unavailable 0).',
  );

/**
 * `strategy: recreate`, `rolling` or `blue-green` alone: that strategy with its defaults (as one
 * writes `strategy: { type: Recreate }` in a Kubernetes Deployment). A canary needs its steps.
 */
const strategy = z
  .union(
    [z.enum(['recreate', 'rolling', 'blue-green']).transform((kind): StrategyConfig => strategyMap.parse({ [kind]: null })), strategyMap],
    expected('recreate, rolling, blue-green, or a map with one strategy (a canary needs its steps: { canary: { steps: [...] } })'),
  )
  .describe(
    'How a new release replaces the running one: recreate, rolling or blue-green by name with their defaults, or a map with one of them or canary (default: rolling).',
  );

// ---------------------------------------------------------------- environments

/** Environment names: used in URLs, CLI flags (`--env`) and file names. */
export const ENVIRONMENT_NAME_PATTERN = /^[a-z][a-z0-9-]*$/;

const approval = z
  .union([z.enum(['required', 'none']), z.boolean()], {
    error: (issue) =>
      `expected required or none (or true/false), got ${typeof issue.input === 'string' ? `'${issue.input}'` : describeValue(issue.input)}`,
  })
  .transform((value): EnvironmentConfig['approval'] => (value === true || value === 'required' ? 'required' : 'none'))
  .describe("'required': a deploy here waits for `gantry approve`; 'none' (default). true and false mean the same.");

const MIN_LOG_BYTES = 1024 * 1024;

const logSize = z.union([z.string(), z.number()], expected('a size such as 512MiB or 2GiB')).transform((value, ctx) => {
  const bytes = byteSize(String(value));
  if (bytes !== null && bytes >= MIN_LOG_BYTES) return bytes;
  ctx.addIssue({
    code: 'custom',
    message: bytes === null ? `expected a size such as 512MiB or 2GiB, got '${value}'` : `expected at least 1MiB, got '${value}'`,
    input: value,
  });
  return z.NEVER;
});

const logAge = z.union([z.string(), z.number()], expected('an age such as 12h, 14d or 2w')).transform((value, ctx) => {
  const ms = typeof value === 'string' ? spanMs(value) : null;
  if (ms !== null && ms > 0) return ms;
  ctx.addIssue({ code: 'custom', message: `expected an age such as 12h, 14d or 2w, got '${value}'`, input: value });
  return z.NEVER;
});

const logsMap = z
  .strictObject(
    {
      'max-size': logSize.optional().describe("Most bytes of this environment's service logs kept (default: the server's, 4GiB)."),
      'max-age': logAge.optional().describe("Service log lines older than this go (default: the server's, 14d)."),
    },
    expected('a map (max-size, max-age)'),
  )
  .transform((raw): NonNullable<EnvironmentConfig['logs']> => compact({ maxBytes: raw['max-size'], maxAgeMs: raw['max-age'] }))
  .describe("This environment's service log budget; past it the oldest lines go, with a line and an event saying so.");

/**
 * `auto: true`: each release of the default branch deploys here by itself. `auto: { branches,
 * tags }`: each release made from a push of a matching branch or tag does (GitHub's filter
 * patterns), e.g. staging from `main` and production from `tags: ['v*']`.
 */
const autoFilterMap = z.strictObject(
  {
    branches: stringOrList('branch patterns').optional().describe('Branches whose releases deploy here by themselves.'),
    tags: stringOrList('tag patterns').optional().describe("Tags whose releases deploy here by themselves (e.g. 'v*')."),
  },
  expected('true, false or a map (branches, tags)'),
);

const autoDeploy = z
  .union(
    [
      z.boolean(),
      autoFilterMap.refine((value) => value.branches !== undefined || value.tags !== undefined, {
        message: 'expected branches or tags (or auto: true for the default branch)',
      }),
    ],
    expected('true, false or a map (branches, tags)'),
  )
  .describe(
    'Deploy new releases here by themselves: true for those of the default branch, or those of matching branches or tags (default false).',
  );

const environmentMap = z.strictObject(
  {
    approval: approval.optional(),
    auto: autoDeploy.default(false),
    strategy: strategy.optional(),
    port: z
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("The proxy's listener port for this environment (1 to 65535; one port per environment)."),
    instances: z.int().min(1).optional().describe('Instances in this environment (default: service.instances).'),
    env: envMap.optional().describe('Environment variables for the instances here, over service.env (name → value).'),
    secrets: z
      .record(envName, secretName, expected('a map of variable names to secret names'))
      .optional()
      .describe(
        "Environment variables taken from secrets: variable name → secret name (the environment's secret, else the project's). Masked in logs.",
      ),
    'error-budget-policy': z
      .enum(['block', 'warn'])
      .optional()
      .describe(
        'When an SLO of this environment has spent its error budget: block refuses deploys (rollbacks pass; `gantry deploy --override --reason` overrides), warn records it and deploys (default block).',
      ),
    logs: logsMap.optional(),
    target: targetSchema.optional(),
    placement: placementSchema.optional(),
  },
  expected('nothing or a map (approval, auto, strategy, port, instances, env, secrets, error-budget-policy, logs, target, placement)'),
);

const environment = environmentMap
  .nullable()
  .superRefine((value, ctx) => {
    if (value?.target !== undefined && value.placement !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['placement'],
        message: 'an environment runs either on agents (placement) or in a Kubernetes namespace (target), not both',
      });
  })
  .transform((raw): Omit<EnvironmentConfig, 'name'> => {
    const value = raw ?? { auto: false };
    return compact({
      approval: value.approval ?? 'none',
      auto: value.auto,
      strategy: value.strategy ?? { ...DEFAULT_STRATEGY },
      port: value.port,
      env: value.env ?? {},
      secrets: value.secrets ?? {},
      instances: value.instances,
      errorBudgetPolicy: value['error-budget-policy'],
      logs: value.logs,
      target: value.target,
      placement: value.placement,
    });
  })
  .describe('A deployment environment: an empty map (or nothing) takes every default.');

/** raw `environments:` → environments by name, in file order. */
export const environmentsSchema = z
  .record(
    z.string().regex(ENVIRONMENT_NAME_PATTERN, {
      error: (issue) => `invalid environment name '${String(issue.input)}': use lower-case letters, digits and -, starting with a letter`,
    }),
    environment,
    expected('a map of environments (name → settings)'),
  )
  .transform(
    (environments): Record<string, EnvironmentConfig> =>
      Object.fromEntries(Object.entries(environments).map(([name, settings]) => [name, { name, ...settings }])),
  )
  .describe(
    'Where releases deploy, by name (staging, production …), each with its approval, strategy, port and overrides. Needs a service.',
  );

// ---------------------------------------------------------------- keys, for "did you mean"

/** The kinds of map in `service` and `environments` with a fixed set of keys. */
export type DeliveryMapKind =
  | 'service'
  | 'health'
  | 'health-check'
  | 'stop'
  | 'environment'
  | 'strategy'
  | 'recreate'
  | 'rolling'
  | 'blue-green'
  | 'canary'
  | 'canary-step'
  | 'match'
  | 'analysis'
  | 'error-rate'
  | 'latency'
  | 'prometheus'
  | 'slo-check'
  | 'target'
  | 'kubernetes'
  | 'gateway'
  | 'placement'
  | 'auto';

/** Known keys per kind of map; the analysis lists latency-p99 to stand for every latency-p<NN>. */
export const DELIVERY_KNOWN_KEYS: Readonly<Record<DeliveryMapKind, readonly string[]>> = {
  service: Object.keys(serviceMap.shape),
  health: Object.keys(healthMap.shape),
  'health-check': Object.keys(readinessMap.shape),
  stop: Object.keys(stopMap.shape),
  environment: Object.keys(environmentMap.shape),
  strategy: [...STRATEGY_KEYS],
  recreate: [],
  rolling: Object.keys(rollingMap.unwrap().shape),
  'blue-green': Object.keys(blueGreenMap.unwrap().shape),
  canary: Object.keys(canaryMap.shape),
  'canary-step': Object.keys(canaryStepMap.in.shape),
  match: Object.keys(matchRuleMap.in.shape),
  analysis: [...ANALYSIS_FIXED_KEYS, 'latency-p99'],
  'error-rate': Object.keys(errorRateMap.shape),
  latency: Object.keys(latencyMap.shape),
  prometheus: Object.keys(prometheusCheckMap.in.shape),
  'slo-check': Object.keys(sloCheckMap.in.shape),
  target: Object.keys(targetMap.shape),
  kubernetes: Object.keys(kubernetesMap.shape),
  gateway: Object.keys(gatewayMap.shape),
  placement: Object.keys(placementMap.shape),
  auto: Object.keys(autoFilterMap.shape),
};
