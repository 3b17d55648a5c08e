/**
 * Normalised `service` and `environments` sections of gantry.yaml (durations in ms, rates as
 * fractions 0..1), produced by src/pipeline/config-schema.ts and read by the runtime
 * supervisor, the proxy and the rollout controller. No I/O.
 */

/**
 * An HTTP path (GET on the instance's port, 2xx/3xx = healthy), a command (exit 0 = healthy), or
 * neither: healthy when $PORT accepts a TCP connection.
 */
export interface HealthCheckConfig {
  path?: string;
  command?: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes to become healthy (readiness) … */
  successThreshold: number;
  /** … and consecutive failures to become unhealthy. */
  failureThreshold: number;
  /** Grace before the first check. */
  initialDelayMs: number;
}

export interface ServiceConfig {
  /** Shell command (bash -c) that starts one instance; it gets $PORT. */
  run: string;
  env: Record<string, string>;
  instances: number;
  /** Relative to the release's artifact root. */
  workingDirectory?: string;
  /** A /tmp of this many bytes in memory (a tmpfs in the sandbox) instead of on disk: what a disk-full fault fills. */
  tmpSizeBytes?: number;
  health: { readiness: HealthCheckConfig; liveness?: HealthCheckConfig };
  stop: { signal: NodeSignal; drainTimeoutMs: number };
}

export type NodeSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2' | 'SIGKILL';

/** Send matching requests to the canary regardless of weight (A/B, "let me see the new version"). */
export type MatchRule = { header: string; value?: string; regex?: string } | { cookie: string; value?: string; regex?: string };

export interface CanaryStepConfig {
  /** Percent of traffic (0..100) on the canary during this step. */
  weight: number;
  /** How long the step lasts; null = until `gantry rollout promote`. */
  pauseMs: number | null;
}

export interface LatencyCheckConfig {
  /** e.g. 0.99 for p99 */
  quantile: number;
  /** Absolute bound on the canary's value. */
  maxMs?: number;
  /** Bound on canary − baseline (same window), e.g. 50 ms. */
  maxIncreaseMs?: number;
}

export interface PrometheusCheckConfig {
  name: string;
  /** PromQL; `$version` / `$environment` are substituted. Must return a scalar or one series. */
  query: string;
  min?: number;
  max?: number;
}

/**
 * A canary check on one of the `slos`: the canary's own bad and total events in the analysis
 * window give its burn rate against the SLO's objective. `objective` and `sli` are copied from
 * the SLO when the whole file is compiled (the delivery and SLO sections are parsed apart).
 */
export interface SloBurnCheckConfig {
  /** The SLO's name in `slos`. */
  name: string;
  /** Fail above this burn rate (1 = spending the budget exactly over the SLO's period). */
  maxBurnRate: number;
  objective?: number;
  /** Only SLIs the proxy measures per pool can judge a canary. */
  sli?: { kind: 'availability' } | { kind: 'latency'; thresholdMs: number };
}

export interface AnalysisConfig {
  errorRate?: {
    /** Absolute bound on the canary's 5xx rate, e.g. 0.01. */
    max?: number;
    /** Bound on canary − baseline 5xx rate, e.g. 0.005. */
    maxIncrease?: number;
  };
  latency: LatencyCheckConfig[];
  prometheus: PrometheusCheckConfig[];
  slo?: SloBurnCheckConfig;
  /** Fewer canary requests than this in the window → inconclusive. */
  minRequests: number;
  /** Fewer canary errors than this in the window never fail an error-rate check: the least evidence a rollback needs. */
  minErrors: number;
  /** The window the checks look at; it never reaches back before the rollout started. */
  windowMs: number;
  /**
   * 1 − the false-alarm rate, e.g. 0.99: over the whole analysis for the error-rate-increase
   * check (a sequential test), at each look for the others.
   */
  confidence: number;
  /** What an inconclusive result does when a step's time is up. */
  onInconclusive: 'pause' | 'continue';
}

/**
 * Analysis defaults, shared by the config schema and the analysis (the figures behind them are in
 * src/delivery/analysis.ts and test/delivery/analysis-simulation.test.ts). The 5-minute window
 * is everything since the canary began for its first five minutes (the proxy keeps five minutes
 * of per-second metrics): the checks run every second, and on a sliding 10 s window each second
 * was a fresh chance to fail a healthy canary on noise; on growing counts a healthy canary's
 * evidence only gets stronger, so the looks no longer add up to false rollbacks. 99 % is the
 * error-rate-increase SPRT's bound on false rollbacks over a whole analysis (docs/decisions/0020).
 * Four errors are the least evidence a rollback needs.
 */
export const ANALYSIS_DEFAULTS = {
  minRequests: 20,
  minErrors: 4,
  windowMs: 300_000,
  confidence: 0.99,
  onInconclusive: 'pause',
} as const satisfies Pick<AnalysisConfig, 'minRequests' | 'minErrors' | 'windowMs' | 'confidence' | 'onInconclusive'>;

export type StrategyConfig =
  | { kind: 'recreate' }
  | { kind: 'rolling'; maxSurge: number; maxUnavailable: number }
  | { kind: 'blue-green'; keepOldMs: number; analysis?: AnalysisConfig; analysisMs: number }
  | { kind: 'canary'; steps: CanaryStepConfig[]; analysis?: AnalysisConfig; match: MatchRule[] };

export interface EnvironmentConfig {
  name: string;
  /** A deploy waits for `gantry approve` when required. */
  approval: 'required' | 'none';
  /**
   * New releases that deploy here by themselves: true for those of the default branch, or those
   * made from pushes of matching branches or tags (filter patterns).
   */
  auto: boolean | { branches?: string[]; tags?: string[] };
  strategy: StrategyConfig;
  /** The proxy's listener port for this environment (127.0.0.1 unless the server binds wider). */
  port?: number;
  /** Overrides service.env. */
  env: Record<string, string>;
  /** Env var name → secret name (resolved from the environment's, then the project's secrets). */
  secrets: Record<string, string>;
  /** Overrides service.instances. */
  instances?: number;
  /**
   * What an exhausted error budget (any SLO here at or below 0 % left) does to a deploy: `block`
   * refuses it unless overridden with a reason (rollbacks always pass), `warn` lets it go with an
   * event. Absent means `block`: the team that wrote the SLO asked for it to matter.
   */
  errorBudgetPolicy?: 'block' | 'warn';
  /** This environment's service log budget; what is absent is the server's. */
  logs?: { maxBytes?: number; maxAgeMs?: number };
  /** Where releases run: absent for the embedded runtime (instances on the server's machine). */
  target?: { kubernetes: KubernetesTargetConfig };
  /** On agents instead of the server's machine: the instances and the proxy (docs/decisions/0043). */
  placement?: PlacementConfig;
}

/** Which agents run an environment: those carrying every label, up to `spread` of them (absent: all that match). */
export interface PlacementConfig {
  labels: string[];
  spread?: number;
}

/**
 * How traffic is split between versions in a cluster: through Gantry's proxy running as a
 * Deployment (the default: canary analysis reads the proxy's per-request measurements), or
 * through a Gateway API HTTPRoute's backend weights (the cluster's gateway measures, Gantry does not).
 */
export type KubernetesTraffic = 'proxy' | 'gateway';

/** An environment deployed to a Kubernetes namespace instead of the embedded runtime (docs/kubernetes.md). */
export interface KubernetesTargetConfig {
  namespace: string;
  /** A context of the kubeconfig; absent means its current context. */
  context?: string;
  /** A kubeconfig file; absent means $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
  /** The service's container image; `{release}` and `{commit}` are replaced by the release's number and commit. */
  image: string;
  traffic: KubernetesTraffic;
  /** The Gateway API gateway the HTTPRoute attaches to (traffic: gateway only). */
  gateway?: { name: string; namespace?: string; hostnames: string[] };
  /** The port the service listens on in its container (given to it as $PORT). */
  containerPort: number;
  /** Gantry's own image, which runs the proxy Deployment (traffic: proxy only). */
  proxyImage: string;
}
