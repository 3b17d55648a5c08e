/**
 * The normalised `experiments` section of gantry.yaml and `.gantry/experiments/*.yaml` (durations
 * in ms, percentages as 0..100, error rates as fractions), produced by
 * src/pipeline/config-experiments-schema.ts and read by the chaos core (src/chaos), the proxy's
 * fault hook and the server's experiment runner. No I/O.
 */

/**
 * Which requests a fault may touch: every field given must hold (AND). `path` is a prefix of the
 * request's path; `header` and `cookie` mark test traffic; `release` limits it to the instances of
 * one release (a canary's, say). An empty match is every request.
 */
export interface FaultMatch {
  path?: string;
  method?: string;
  header?: { name: string; value: string };
  cookie?: { name: string; value: string };
  release?: string;
  /**
   * Only requests another Gantry service sends through this proxy: `<project>/<environment>` (or an
   * environment of the same project) of the caller. The server resolves it to `callerKeys`.
   */
  caller?: string;
  /** The caller's instances (their GANTRY_INSTANCE_KEY), as the server resolved `caller` at the start (it sends the proxy new ones as they change). */
  callerKeys?: string[];
}

/** What a proxy fault shares: the share of matching requests it takes (0..100) and the match. */
export interface FaultScope {
  percent: number;
  match: FaultMatch;
}

/** How an added delay varies around its mean: uniformly within ± jitter, or normally with σ = jitter. */
export type DelayDistribution = 'uniform' | 'normal';

/**
 * A fault the proxy injects into one request: added latency before it is forwarded, an answer
 * with an HTTP status instead of forwarding (`abort`), the client connection cut (`reset`), or
 * no answer until `afterMs` and then 504 (`timeout`).
 */
export type ProxyFault =
  | (FaultScope & { kind: 'latency'; delayMs: number; jitterMs: number; distribution: DelayDistribution })
  | (FaultScope & { kind: 'abort'; status: number })
  | (FaultScope & { kind: 'reset' })
  | (FaultScope & { kind: 'timeout'; afterMs: number });

export type ProxyFaultKind = ProxyFault['kind'];

/**
 * Which of an environment's instances an instance fault takes: `count` of them, or a `share`
 * (0..1, rounded up to at least one) — of one release's when `release` is given (an id, or
 * `canary` / `stable`, resolved when the experiment starts, as a proxy fault's match is).
 */
export interface InstanceTarget {
  count?: number;
  share?: number;
  release?: string;
}

/**
 * A fault done to instances' processes (src/runtime/instance-faults.ts): `kill` (SIGKILL, the
 * supervisor restarts it as after a crash), `restart` (the service's stop signal, drained, then
 * started again), `pause` (SIGSTOP until the faults come out, then SIGCONT), `cpu` (busy workers),
 * `memory` (resident bytes held) and `disk-full` (its in-memory /tmp filled, `service.tmp-size`)
 * pressure inside the instance's sandbox until the faults come out.
 */
export type InstanceFault =
  | { kind: 'kill'; target: InstanceTarget }
  | { kind: 'restart'; target: InstanceTarget }
  | { kind: 'pause'; target: InstanceTarget }
  | { kind: 'cpu'; target: InstanceTarget; workers: number }
  | { kind: 'memory'; target: InstanceTarget; bytes: number }
  | { kind: 'disk-full'; target: InstanceTarget };

export type InstanceFaultKind = InstanceFault['kind'];

/** A process by pid and start time (a pid alone may be reused). */
export interface ProcessMark {
  pid: number;
  startTime: string;
}

/**
 * An instance fault as applied, in the run's record: which instance, and for a lasting fault
 * (pause, cpu, memory) what to undo — the processes it stopped and the helpers that end it at the
 * deadline — so a restarted server can end it early too.
 */
export interface AppliedInstanceFault {
  kind: InstanceFaultKind;
  instanceId: string;
  release: string;
  paused: ProcessMark[];
  helpers: ProcessMark[];
  /** Pressure: whether its workers ran inside the instance's sandbox (its PID and mount namespaces) or beside it. */
  inside?: boolean;
  /** Disk-full: the bytes it took to fill the instance's /tmp. */
  filledBytes?: number;
}

/**
 * The steady state an experiment must keep. Absolute bounds (`max`) are on all of the
 * environment's traffic, what its users see; `maxIncrease` bounds compare the requests inside
 * the blast radius with the control, those outside it (docs/decisions/0030).
 */
export interface HypothesisConfig {
  /** An SLO of the environment: its burn rate must stay at or below the page threshold (14.4). */
  slo?: string;
  errorRate?: { max?: number; maxIncrease?: number };
  latency: { quantile: number; maxMs?: number; maxIncreaseMs?: number }[];
}

/** Refuse to start unless these hold. */
export interface ExperimentGuard {
  /** Least share (0..1) of every SLO's error budget left in the environment. */
  minBudget?: number;
  /** No rollout may be under way in the environment (default true). */
  noRollout: boolean;
}

/**
 * When an experiment runs by itself: at each fire of `cron` (read in `timezone`, an IANA name), a
 * window of `windowMs` opens; the experiment starts once in it (retried while the environment is
 * busy or not running), or — with `everyMs` — again every interval while it is open (the monkey
 * mode: with a `kill` fault, one random instance killed per interval). Every start goes through
 * the guard like a start by hand.
 */
export interface ExperimentSchedule {
  cron: string;
  windowMs: number;
  timezone: string;
  everyMs?: number;
}

export interface ExperimentConfig {
  name: string;
  environment: string;
  hypothesis: HypothesisConfig;
  /** Faults at the proxy, per request (may be empty when the experiment has instance faults). */
  faults: ProxyFault[];
  /** Faults done to instances' processes; absent when there are none. */
  instanceFaults?: InstanceFault[];
  /** How long the faults stay in. */
  durationMs: number;
  /** The steady state before is measured over this much traffic just before the start. */
  beforeMs: number;
  /** The steady state after is measured over this long once the faults are out. */
  afterMs: number;
  guard: ExperimentGuard;
  /** Absent: it runs only when asked. */
  schedule?: ExperimentSchedule;
}

/** The burn rate a hypothesis `slo:` must stay under: the SRE workbook's fast-burn page. */
export const HYPOTHESIS_MAX_BURN_RATE = 14.4;

/** Defaults of what an experiment may leave out. */
export const EXPERIMENT_DEFAULTS = {
  beforeMs: 30_000,
  afterMs: 10_000,
  percent: 100,
  abortStatus: 503,
  timeoutAfterMs: 30_000,
  instances: 1,
  cpuWorkers: 1,
} as const;

/** The most a memory fault may hold per instance, and the most CPU workers: pressure, not a host outage. */
export const INSTANCE_FAULT_LIMITS = { maxBytes: 8 * 1024 ** 3, maxWorkers: 16 } as const;
