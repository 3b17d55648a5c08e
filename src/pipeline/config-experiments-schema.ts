/**
 * The `experiments` section of gantry.yaml (and each `.gantry/experiments/*.yaml`, which holds the
 * same map): raw YAML as users write it (`200ms`, `10%`, kebab-case keys, one key per fault
 * naming its kind) in, the normalised ExperimentConfig list of src/core/chaos-config.ts out.
 * Checks across sections (the environment is declared, the hypothesis's SLO exists) are
 * `checkExperiments`, with did-you-mean like the rest of the file.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import {
  EXPERIMENT_DEFAULTS,
  INSTANCE_FAULT_LIMITS,
  type ExperimentConfig,
  type ExperimentSchedule,
  type FaultMatch,
  type HypothesisConfig,
  type InstanceFault,
  type InstanceTarget,
  type ProxyFault,
} from '../core/chaos-config.ts';
import { didYouMean } from '../core/did-you-mean.ts';
import { compact, duration, expected, ID_PATTERN } from './config-common.ts';
import { rate } from './config-delivery-schema.ts';

type Path = readonly (string | number)[];

const PERCENT = /^(\d+(?:\.\d+)?)\s*%?$/;

/** `10`, `10%` or `0.5%`: a share of the matching requests, 0..100. */
const percent = z.union([z.number(), z.string()], expected('a percentage such as 10 or 10%')).transform((value, ctx) => {
  const n = typeof value === 'number' ? value : Number(PERCENT.exec(value.trim())?.[1] ?? Number.NaN);
  if (!(n >= 0 && n <= 100)) {
    ctx.addIssue({ code: 'custom', message: `expected a percentage from 0 to 100, got ${String(value)}`, input: value });
    return z.NEVER;
  }
  return n;
});

/** `{ X-Test: chaos }`: one name and the value it must have. */
const pairMap = (what: string) =>
  z
    .record(
      z.string().min(1),
      z.union([z.string(), z.number(), z.boolean()]).transform(String),
      expected(`a map with one ${what} name and its value`),
    )
    .refine((m) => Object.keys(m).length === 1, { error: `give exactly one ${what} name and its value, e.g. { x-test: chaos }` })
    .transform((m) => {
      const [name, value] = Object.entries(m)[0] as [string, string];
      return { name, value };
    });

const matchMap = z
  .strictObject(
    {
      path: z
        .string()
        .startsWith('/', { error: 'a path starts with /' })
        .optional()
        .describe('Only requests whose path starts with this, e.g. /pay.'),
      method: z.string().min(1).optional().describe('Only requests with this method, e.g. POST.'),
      header: pairMap('header')
        .optional()
        .describe('Only requests with this header and value, e.g. { x-test-traffic: "1" } to fault test traffic alone.'),
      cookie: pairMap('cookie').optional().describe('Only requests with this cookie and value, e.g. { tier: test }.'),
      release: z
        .string()
        .min(1)
        .optional()
        .describe(
          "Only requests routed to this release's instances: a release id, or canary (the release a rollout under way brings in: try it against a fault before it is promoted) or stable.",
        ),
      caller: z
        .string()
        .regex(/^[^/\s]+(\/[^/\s]+)?$/, { error: 'a caller is <project>/<environment>, or an environment of this project' })
        .optional()
        .describe(
          'Only requests another Gantry service sends through this proxy, as <project>/<environment> (or an environment of this project): a fault on that edge alone, its other callers untouched.',
        ),
    },
    expected('a map (path, method, header, cookie, release, caller)'),
  )
  .transform((raw): FaultMatch => compact(raw));

const scope = {
  percent: percent.optional().describe(`The share of matching requests the fault takes, 0..100 (default ${EXPERIMENT_DEFAULTS.percent}).`),
  match: matchMap.optional().describe('Which requests the fault may take (every field must hold); default every request.'),
};

const latencyFault = z.strictObject(
  {
    delay: duration.describe('The delay added before the request is forwarded, e.g. 200ms.'),
    jitter: duration.optional().describe('How much the delay varies: ± this (uniform) or σ (normal); default 0.'),
    distribution: z.enum(['uniform', 'normal']).optional().describe('How the delay varies around its mean (default uniform).'),
    ...scope,
  },
  expected('a map with delay'),
);
const abortFault = z.strictObject(
  {
    status: z.int().min(400).max(599).optional().describe(`The HTTP status answered instead (default ${EXPERIMENT_DEFAULTS.abortStatus}).`),
    ...scope,
  },
  expected('a map (status, percent, match)'),
);
const resetFault = z.strictObject(scope, expected('a map (percent, match)'));
const timeoutFault = z.strictObject(
  {
    after: duration.optional().describe(`How long the request hangs before a 504 (default ${EXPERIMENT_DEFAULTS.timeoutAfterMs / 1000}s).`),
    ...scope,
  },
  expected('a map (after, percent, match)'),
);

/** `1` (instances) or `50%` (a share of them, at least one). */
const instanceCount = z
  .union([z.number(), z.string()], expected('a number of instances such as 1, or a share such as 50%'))
  .transform((value, ctx): Pick<InstanceTarget, 'count' | 'share'> => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return { count: value };
    const share = typeof value === 'string' && value.trim().endsWith('%') ? Number(PERCENT.exec(value.trim())?.[1]) : Number.NaN;
    if (share > 0 && share <= 100) return { share: share / 100 };
    ctx.addIssue({
      code: 'custom',
      message: `expected a number of instances (1 or more) or a share such as 50%, got ${String(value)}`,
      input: value,
    });
    return z.NEVER;
  });

const targetKeys = {
  instances: instanceCount
    .optional()
    .describe(`How many of the instances the fault takes: a number, or a share such as 50% (default ${EXPERIMENT_DEFAULTS.instances}).`),
  release: z
    .string()
    .min(1)
    .optional()
    .describe('Only instances of this release: a release id, or canary (the release a rollout under way brings in) or stable.'),
};

const BYTES = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i;
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `256MiB`, `1GB` or a number of bytes, at most INSTANCE_FAULT_LIMITS.maxBytes. */
const byteSize = z.union([z.number(), z.string()], expected('a size such as 256MiB')).transform((value, ctx) => {
  const m = typeof value === 'string' ? BYTES.exec(value.trim()) : null;
  const n =
    typeof value === 'number' ? value : m === null ? Number.NaN : Number(m[1]) * (BYTE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? Number.NaN);
  if (!(n >= 1 && n <= INSTANCE_FAULT_LIMITS.maxBytes)) {
    ctx.addIssue({ code: 'custom', message: `expected a size from 1 byte to 8GiB such as 256MiB, got ${String(value)}`, input: value });
    return z.NEVER;
  }
  return Math.round(n);
});

const killFault = z.strictObject(targetKeys, expected('a map (instances, release)'));
const restartFault = z.strictObject(targetKeys, expected('a map (instances, release)'));
const pauseFault = z.strictObject(targetKeys, expected('a map (instances, release)'));
const cpuFault = z.strictObject(
  {
    workers: z
      .int()
      .min(1)
      .max(INSTANCE_FAULT_LIMITS.maxWorkers)
      .optional()
      .describe(
        `Busy processes in each instance's sandbox, each as much of a core as it gets (default ${EXPERIMENT_DEFAULTS.cpuWorkers}).`,
      ),
    ...targetKeys,
  },
  expected('a map (workers, instances, release)'),
);
const memoryFault = z.strictObject(
  { size: byteSize.describe("The resident memory held in each instance's sandbox, e.g. 256MiB."), ...targetKeys },
  expected('a map with size'),
);

const diskFullFault = z.strictObject(targetKeys, expected('a map (instances, release)'));

const FAULT_KINDS = 'latency, abort, reset, timeout, kill, restart, pause, cpu, memory or disk-full';

const faultMap = z
  .strictObject(
    {
      latency: latencyFault.optional().describe('Add latency to requests at the proxy.'),
      abort: abortFault.optional().describe('Answer requests with an HTTP error status instead of forwarding them.'),
      reset: resetFault.optional().describe("Cut requests' client connections."),
      timeout: timeoutFault.optional().describe('Hold requests unanswered, then answer 504.'),
      kill: killFault.optional().describe('SIGKILL instances (the supervisor restarts them as after a crash).'),
      restart: restartFault.optional().describe("Restart instances gracefully: the service's stop signal, drained, started again."),
      pause: pauseFault.optional().describe('Freeze instances (SIGSTOP) until the faults come out (SIGCONT).'),
      cpu: cpuFault.optional().describe("CPU pressure: busy processes inside instances' sandboxes until the faults come out."),
      memory: memoryFault
        .optional()
        .describe("Memory pressure: resident memory held inside instances' sandboxes until the faults come out."),
      'disk-full': diskFullFault
        .optional()
        .describe(
          "Fill instances' /tmp until writes fail with ENOSPC, until the faults come out. Needs service.tmp-size (a /tmp in memory of that size): never a real disk.",
        ),
    },
    expected(`a map with one fault kind: ${FAULT_KINDS}`),
  )
  .superRefine((raw, ctx) => {
    const kinds = Object.keys(raw).filter((k) => raw[k as keyof typeof raw] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `give exactly one fault kind (${FAULT_KINDS}), got ${kinds.length}`,
        input: raw,
      });
  })
  .transform((raw): ProxyFault | InstanceFault => {
    const common = (s: { percent?: number; match?: FaultMatch }) => ({
      percent: s.percent ?? EXPERIMENT_DEFAULTS.percent,
      match: s.match ?? {},
    });
    const target = (t: { instances?: Pick<InstanceTarget, 'count' | 'share'>; release?: string }): InstanceTarget =>
      compact({ ...(t.instances ?? { count: EXPERIMENT_DEFAULTS.instances }), release: t.release });
    if (raw.latency !== undefined)
      return {
        kind: 'latency',
        delayMs: raw.latency.delay,
        jitterMs: raw.latency.jitter ?? 0,
        distribution: raw.latency.distribution ?? 'uniform',
        ...common(raw.latency),
      };
    if (raw.abort !== undefined)
      return { kind: 'abort', status: raw.abort.status ?? EXPERIMENT_DEFAULTS.abortStatus, ...common(raw.abort) };
    if (raw.timeout !== undefined)
      return { kind: 'timeout', afterMs: raw.timeout.after ?? EXPERIMENT_DEFAULTS.timeoutAfterMs, ...common(raw.timeout) };
    if (raw.kill !== undefined) return { kind: 'kill', target: target(raw.kill) };
    if (raw.restart !== undefined) return { kind: 'restart', target: target(raw.restart) };
    if (raw.pause !== undefined) return { kind: 'pause', target: target(raw.pause) };
    if (raw.cpu !== undefined) return { kind: 'cpu', target: target(raw.cpu), workers: raw.cpu.workers ?? EXPERIMENT_DEFAULTS.cpuWorkers };
    if (raw.memory !== undefined) return { kind: 'memory', target: target(raw.memory), bytes: raw.memory.size };
    if (raw['disk-full'] !== undefined) return { kind: 'disk-full', target: target(raw['disk-full']) };
    return { kind: 'reset', ...common(raw.reset ?? {}) };
  });

const INSTANCE_KINDS: ReadonlySet<string> = new Set(['kill', 'restart', 'pause', 'cpu', 'memory', 'disk-full']);

/** Whether a fault is done to instances (rather than to requests at the proxy). */
export function isInstanceFault(f: ProxyFault | InstanceFault): f is InstanceFault {
  return INSTANCE_KINDS.has(f.kind);
}

const boundMap = <T extends z.ZodType>(value: T, what: string) =>
  z
    .strictObject(
      {
        max: value.optional().describe(`Highest acceptable ${what} over all of the environment's traffic.`),
        'max-increase': value
          .optional()
          .describe(`Highest acceptable ${what} of the requests inside the blast radius above the control's (the traffic outside it).`),
      },
      expected('a map (max, max-increase)'),
    )
    .refine((m) => m.max !== undefined || m['max-increase'] !== undefined, { error: 'give max, max-increase or both' });

/** The percentiles a hypothesis may bound, as keys. */
export const HYPOTHESIS_LATENCY_KEYS = {
  'latency-p50': 0.5,
  'latency-p90': 0.9,
  'latency-p95': 0.95,
  'latency-p99': 0.99,
  'latency-p999': 0.999,
} as const;

const latencyBound = boundMap(duration, 'value of this percentile');
const hypothesisMap = z
  .strictObject(
    {
      slo: z
        .string()
        .min(1)
        .optional()
        .describe('An SLO of the environment: its burn rate must stay at or below the page threshold (14.4).'),
      'error-rate': boundMap(rate, '5xx rate').optional().describe('Bound the 5xx rate, e.g. { max: 1% }.'),
      'latency-p50': latencyBound.optional().describe('Bound the median latency.'),
      'latency-p90': latencyBound.optional().describe('Bound the 90th percentile latency.'),
      'latency-p95': latencyBound.optional().describe('Bound the 95th percentile latency.'),
      'latency-p99': latencyBound.optional().describe('Bound the 99th percentile latency, e.g. { max: 400ms }.'),
      'latency-p999': latencyBound.optional().describe('Bound the 99.9th percentile latency.'),
    },
    expected('a map of bounds (slo, error-rate, latency-p99, …)'),
  )
  .refine((m) => Object.values(m).some((v) => v !== undefined), {
    error: 'a hypothesis needs at least one bound: slo, error-rate or latency-p<NN>',
  })
  .transform((raw): HypothesisConfig => {
    const latency: HypothesisConfig['latency'] = [];
    for (const [key, quantile] of Object.entries(HYPOTHESIS_LATENCY_KEYS)) {
      const bound = raw[key as keyof typeof HYPOTHESIS_LATENCY_KEYS];
      if (bound !== undefined) latency.push(compact({ quantile, maxMs: bound.max, maxIncreaseMs: bound['max-increase'] }));
    }
    const errorRate = raw['error-rate'];
    return compact({
      slo: raw.slo,
      errorRate: errorRate === undefined ? undefined : compact({ max: errorRate.max, maxIncrease: errorRate['max-increase'] }),
      latency,
    });
  });

const guardMap = z.strictObject(
  {
    'min-budget': rate
      .optional()
      .describe('Refuse to start unless every SLO of the environment has at least this share of its error budget left, e.g. 50%.'),
    'no-rollout': z.boolean().optional().describe('Refuse to start while a rollout is under way in the environment (default true).'),
  },
  expected('a map (min-budget, no-rollout)'),
);

/** An IANA time zone name the runtime knows, e.g. Europe/Paris. */
const timeZone = z.string(expected('an IANA time zone such as Europe/Paris')).refine(
  (name) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      return true;
    } catch {
      return false;
    }
  },
  { error: (issue) => `unknown time zone '${String(issue.input)}': use an IANA name such as Europe/Paris or UTC` },
);

/** A cron pattern croner reads: 5 fields, or 6 with seconds first. */
const cronPattern = z.string(expected("a cron pattern such as '0 14 * * 1-5'")).refine(
  (pattern) => {
    try {
      new Cron(pattern, { mode: '5-or-6-parts' });
      return true;
    } catch {
      return false;
    }
  },
  {
    error: (issue) =>
      `invalid cron pattern '${String(issue.input)}': expected 5 fields (minute hour day month weekday), e.g. '0 14 * * 1-5'`,
  },
);

const scheduleMap = z
  .strictObject(
    {
      cron: cronPattern.describe("When each window opens, e.g. '0 14 * * 1-5' (weekdays at 14:00)."),
      window: duration.describe('How long each window stays open, e.g. 2h.'),
      timezone: timeZone.optional().describe('The IANA time zone the cron is read in (default UTC).'),
      every: duration
        .optional()
        .describe(
          'Run again every this long while the window is open (with a kill fault: the monkey mode, one random instance per interval).',
        ),
    },
    expected('a map (cron, window, timezone, every)'),
  )
  .refine((m) => m.every === undefined || m.every < m.window, { error: 'every must be shorter than the window', path: ['every'] })
  .transform((m): ExperimentSchedule => compact({ cron: m.cron, windowMs: m.window, timezone: m.timezone ?? 'UTC', everyMs: m.every }));

const experimentMap = z
  .strictObject(
    {
      environment: z.string(expected('an environment name')).min(1).describe('The environment the experiment runs in.'),
      hypothesis: hypothesisMap.describe('The steady state, checked before, every second during, and after the faults.'),
      faults: z.array(faultMap, expected('a list of faults')).min(1).describe('The faults to inject, tried in order for each request.'),
      duration: duration.describe('How long the faults stay in, e.g. 2m.'),
      before: duration
        .optional()
        .describe(`The traffic just before the start the steady state is measured on (default ${EXPERIMENT_DEFAULTS.beforeMs / 1000}s).`),
      after: duration
        .optional()
        .describe(`How long the steady state is measured once the faults are out (default ${EXPERIMENT_DEFAULTS.afterMs / 1000}s).`),
      guard: guardMap.optional().describe('Conditions the experiment refuses to start without.'),
      schedule: scheduleMap
        .optional()
        .describe('When it runs by itself: a cron, a window, a time zone, and optionally every (monkey mode).'),
    },
    expected('a map with environment, hypothesis, faults and duration'),
  )
  .superRefine(
    (raw, ctx) => {
      const canary = raw.faults.findIndex((f) => (isInstanceFault(f) ? f.target.release : f.match.release) === 'canary');
      if (canary >= 0 && raw.guard?.['no-rollout'] !== false)
        ctx.addIssue({
          code: 'custom',
          path: ['faults', canary],
          message:
            'a fault on the canary runs during a rollout: set guard: { no-rollout: false } (the default refuses to start while one is under way)',
          input: raw.faults[canary],
        });
    },
    { when: (payload) => payload.issues.length === 0 },
  );

type ExperimentInput = z.output<typeof experimentMap>;

function normalise(name: string, raw: ExperimentInput): ExperimentConfig {
  const instanceFaults = raw.faults.filter(isInstanceFault);
  return {
    name,
    environment: raw.environment,
    hypothesis: raw.hypothesis,
    faults: raw.faults.filter((f): f is ProxyFault => !isInstanceFault(f)),
    ...(instanceFaults.length > 0 ? { instanceFaults } : {}),
    durationMs: raw.duration,
    beforeMs: raw.before ?? EXPERIMENT_DEFAULTS.beforeMs,
    afterMs: raw.after ?? EXPERIMENT_DEFAULTS.afterMs,
    guard: compact({ minBudget: raw.guard?.['min-budget'], noRollout: raw.guard?.['no-rollout'] ?? true }),
    ...(raw.schedule === undefined ? {} : { schedule: raw.schedule }),
  };
}

/** `experiments:` — a map of experiment name → experiment, normalised to a list in the order written. */
export const experimentsSchema = z
  .record(z.string(), experimentMap, expected('a map of experiment names to experiments'))
  .superRefine((raw, ctx) => {
    for (const name of Object.keys(raw)) {
      if (ID_PATTERN.test(name)) continue;
      ctx.addIssue({
        code: 'custom',
        message: `invalid experiment name '${name}': use letters, digits, - and _, starting with a letter or _`,
        path: [name],
        input: name,
      });
    }
  })
  .transform((raw): ExperimentConfig[] => Object.entries(raw).map(([name, e]) => normalise(name, e)))
  .describe('Chaos experiments, by name: a steady-state hypothesis, faults with a bounded blast radius, a duration and a guard.');

export type ExperimentMapKind =
  | 'experiment'
  | 'hypothesis'
  | 'fault'
  | 'fault-latency'
  | 'fault-abort'
  | 'fault-reset'
  | 'fault-timeout'
  | 'fault-kill'
  | 'fault-restart'
  | 'fault-pause'
  | 'fault-cpu'
  | 'fault-memory'
  | 'fault-disk-full'
  | 'fault-match'
  | 'guard'
  | 'schedule';

export const EXPERIMENT_KNOWN_KEYS: Readonly<Record<ExperimentMapKind, readonly string[]>> = {
  experiment: Object.keys(experimentMap.shape),
  hypothesis: Object.keys(hypothesisMap.in.shape),
  fault: Object.keys(faultMap.in.shape),
  'fault-latency': Object.keys(latencyFault.shape),
  'fault-abort': Object.keys(abortFault.shape),
  'fault-reset': Object.keys(resetFault.shape),
  'fault-timeout': Object.keys(timeoutFault.shape),
  'fault-kill': Object.keys(killFault.shape),
  'fault-restart': Object.keys(restartFault.shape),
  'fault-pause': Object.keys(pauseFault.shape),
  'fault-cpu': Object.keys(cpuFault.shape),
  'fault-memory': Object.keys(memoryFault.shape),
  'fault-disk-full': Object.keys(diskFullFault.shape),
  'fault-match': Object.keys(matchMap.in.shape),
  guard: Object.keys(guardMap.shape),
  schedule: Object.keys(scheduleMap.in.shape),
};

/** Which kind of map with fixed keys sits at a path inside `experiments`, and how to name the place. */
export function experimentPlace(path: Path): { kind: ExperimentMapKind | undefined; context: string } | undefined {
  if (path[0] !== 'experiments') return undefined;
  if (path.length === 1) return { kind: undefined, context: "in 'experiments'" };
  const name = `experiment '${String(path[1])}'`;
  if (path.length === 2) return { kind: 'experiment', context: `in ${name}` };
  if (path.length === 3 && (path[2] === 'hypothesis' || path[2] === 'guard' || path[2] === 'schedule'))
    return { kind: path[2], context: `in the ${path[2]} of ${name}` };
  if (path[2] === 'faults' && typeof path[3] === 'number') {
    const fault = `fault ${path[3] + 1} of ${name}`;
    if (path.length === 4) return { kind: 'fault', context: `in ${fault}` };
    const kind = String(path[4]);
    if (path.length === 5 && (['latency', 'abort', 'reset', 'timeout'].includes(kind) || INSTANCE_KINDS.has(kind)))
      return { kind: `fault-${kind}` as ExperimentMapKind, context: `in the ${kind} ${fault}` };
    if (path.length === 6 && path[5] === 'match') return { kind: 'fault-match', context: `in the match of ${fault}` };
  }
  return { kind: undefined, context: `in '${path.slice(2).join('.')}' of ${name}` };
}

/** What the checks need from load-config's diagnostics collector (as config-slo-schema.ts). */
interface ExperimentCheckSink {
  rawAt(path: Path): unknown;
  valueOffset(path: Path): number;
  report(offset: number, message: string): void;
}

/**
 * Experiments may name only environments the file declares, and only SLOs it declares; a
 * disk-full fault needs the service's `tmp-size` (the only disk it may fill).
 */
export function checkExperiments(sink: ExperimentCheckSink): void {
  const experiments = sink.rawAt(['experiments']);
  if (!isObject(experiments)) return;
  const environments = sink.rawAt(['environments']);
  const declaredEnvironments = isObject(environments) ? Object.keys(environments) : [];
  const slos = sink.rawAt(['slos']);
  const declaredSlos = isObject(slos) ? Object.keys(slos).filter((n) => n !== 'environments') : [];
  const service = sink.rawAt(['service']);
  const tmpSize = isObject(service) && service['tmp-size'] !== undefined;
  for (const [name, experiment] of Object.entries(experiments)) {
    if (!isObject(experiment)) continue;
    const environment = experiment.environment;
    if (typeof environment === 'string' && !declaredEnvironments.includes(environment)) {
      const known =
        declaredEnvironments.length === 0 ? "there is no 'environments' section" : `declared: ${declaredEnvironments.join(', ')}`;
      const hint = didYouMean(environment, declaredEnvironments);
      sink.report(
        sink.valueOffset(['experiments', name, 'environment']),
        `environment '${environment}' is not declared in 'environments'${hint === '' ? ` (${known})` : hint}`,
      );
    }
    if (typeof environment === 'string' && gatewayRouted(isObject(environments) ? environments[environment] : undefined))
      sink.report(
        sink.valueOffset(['experiments', name, 'environment']),
        `environment '${environment}' splits its traffic with a Gateway API HTTPRoute (traffic: gateway): no Gantry proxy is in its path to inject faults into or measure the hypothesis from; experiments need traffic: proxy (CHAOS_FAULT_NOT_ON_GATEWAY)`,
      );
    const hypothesis = experiment.hypothesis;
    const slo = isObject(hypothesis) ? hypothesis.slo : undefined;
    if (typeof slo === 'string' && !declaredSlos.includes(slo)) {
      const known = declaredSlos.length === 0 ? "there is no 'slos' section" : `declared: ${declaredSlos.join(', ')}`;
      const hint = didYouMean(slo, declaredSlos);
      sink.report(
        sink.valueOffset(['experiments', name, 'hypothesis', 'slo']),
        `SLO '${slo}' is not declared in 'slos'${hint === '' ? ` (${known})` : hint}`,
      );
    }
    const faults = Array.isArray(experiment.faults) ? experiment.faults : [];
    faults.forEach((fault, i) => {
      if (tmpSize || !isObject(fault) || fault['disk-full'] === undefined) return;
      sink.report(
        sink.valueOffset(['experiments', name, 'faults', i, 'disk-full']),
        "disk-full fills only an instance's /tmp held in memory: give the service a tmp-size (e.g. tmp-size: 64MiB), so that no real disk is ever filled",
      );
    });
  }
}

/** An environment (as written) deployed to Kubernetes with `traffic: gateway`. */
function gatewayRouted(environment: unknown): boolean {
  if (!isObject(environment) || !isObject(environment.target)) return false;
  const kubernetes = environment.target.kubernetes;
  return isObject(kubernetes) && kubernetes.traffic === 'gateway';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
