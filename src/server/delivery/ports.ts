/**
 * The rollout controller's side effects, each behind a small port: service instances
 * (`InstanceSupervisor`), each environment's traffic proxy (`ProxyControl` → `EnvironmentProxy`),
 * Prometheus (`MetricsSource`) and time (`Clock`, src/core/clock.ts). The real implementations
 * live in ./real-ports.ts (thin adapters over src/runtime and src/proxy); in-memory fakes for
 * tests in test/support/fakes/. One contract suite per port (test/server/delivery/contracts/)
 * runs against both, so a scenario passing on the fakes says something about the real thing.
 */
import type { EnvironmentConfig, PrometheusCheckConfig, ServiceConfig } from '../../core/delivery-config.ts';
import type { RolloutCommand, RolloutEvent } from '../../delivery/index.ts';
import type { FaultCallersRequest, FaultReport, FaultSetRequest, RollupBatch, RouteTable, WindowStats } from '../../proxy/index.ts';
import type { FaultableInstance, InstanceSpec, InstanceStatus } from '../../runtime/index.ts';
import type { Project, ReleaseRecord } from '../../store/ports.ts';

export type { Clock, TimerHandle } from '../../core/clock.ts';

/** What an instance serves: the environment key (`<projectId>:<environment>`), release and pool. */
export interface InstanceLabels {
  environment: string;
  releaseId: string;
  pool: string;
  /** Where the instance is reached when not on this machine (an agent's address; docs/decisions/0043). */
  host?: string;
}

/**
 * Starts and stops service instances; they outlive the server (`adopt` reattaches them).
 *
 * - Ordering: `start` resolves once the instance is registered (`starting`, listed by `list()`,
 *   labelled by `labels()`); readiness comes later and is awaited with `waitReady`. Every state
 *   change is reported to the `onChange` listeners, in the order it happened, after `list()`
 *   shows it.
 * - Concurrency: calls for different instances may overlap freely; `stop` of an instance whose
 *   start is under way waits for the start. Listeners are called synchronously and must not throw.
 * - Idempotency: `start` of an id that runs rejects (ConflictError); `stop` of a stopped instance
 *   resolves at once; `stop` of an unknown id rejects (NotFoundError). `adopt` and `detach` may be
 *   called once each per lifetime.
 * - `waitReady` resolves when the instance is `ready`, rejects (code INSTANCE_NOT_READY) when it
 *   is `failed`, `stopping` or `stopped`, or after `timeoutMs`.
 */
export interface InstanceSupervisor {
  /** Reattaches instances left by a previous server (the same data dir); resolves when each is watched again. */
  adopt(): Promise<unknown>;
  start(spec: InstanceSpec): Promise<InstanceStatus>;
  waitReady(id: string, timeoutMs: number): Promise<InstanceStatus>;
  /** Signal, drain timeout, SIGKILL; resolves once the instance is `stopped`. */
  stop(id: string): Promise<void>;
  /** Every known instance (stopped ones included, until forgotten). */
  list(): InstanceStatus[];
  labels(id: string): InstanceLabels | undefined;
  /** Registers a change listener; returns its removal. */
  onChange(listener: (status: InstanceStatus) => void): () => void;
  /** Server shutdown: stops watching; instances keep running. */
  detach(): Promise<void>;
  /** A running instance's processes and graceful restart, for chaos faults; absent where instances are not processes (fakes). */
  faultable?(id: string): FaultableInstance | undefined;
}

/** An environment's instances as a chaos experiment takes them (DeliveryController.chaosTarget). */
export interface EnvironmentInstances {
  /** The instances serving traffic now, with their release. */
  ready(): { id: string; release: string }[];
  faultable(id: string): FaultableInstance | undefined;
}

/** Where and as whom an environment's proxy listens. */
export interface ProxyOpenOptions {
  /** `<projectId>:<environment>`: identifies the proxy across server restarts. */
  environmentKey: string;
  /** Metrics label (`project/environment`). */
  label: string;
  host: string;
  port: number;
  /** The release the environment is opened for (a deploy's): its config says where the proxy runs. */
  releaseId?: string;
}

/**
 * Each environment's proxy process, started or adopted. Proxies outlive the server and keep
 * routing by their last table.
 *
 * - `open` adopts a live proxy of that environment on the same host and port (keeping its table),
 *   else starts one (routing by its persisted table); rejects when the port cannot be listened on.
 *   Concurrent `open`s of one environment are the caller's to avoid (the controller shares one).
 * - `closeAbandoned(keys)` shuts down live proxies of those environments that no `open` returned
 *   (a stop the previous server did not finish); others found are left running. Idempotent.
 */
export interface ProxyControl {
  open(options: ProxyOpenOptions): Promise<EnvironmentProxy>;
  closeAbandoned(environmentKeys: ReadonlySet<string>): Promise<void>;
}

/**
 * One environment's proxy as the controller steers it.
 *
 * - Ordering: route tables reach the proxy in call order; a later one never overtakes an earlier
 *   one (queued ones may be coalesced into the newest). `setRoutes` resolves once that table (or
 *   a newer one) is applied; each request is routed by exactly one table.
 * - Failure: every call has a deadline and rejects rather than hanging; the proxy keeps routing by
 *   the last table it accepted. An invalid table rejects (InputError) and changes nothing.
 * - `drained(id, ms)`: true once the upstream (out of the table) has no request in flight, false
 *   at the deadline. `window` reads request metrics of a time range, filtered by release
 *   (`version`) or pool; reading does not consume. `readRollups` returns the completed ten-second
 *   roll-ups the proxy keeps, again on every read until `ackRollups(through)` (after they are
 *   stored) makes it forget them; acknowledging twice is harmless. `detach` leaves the process
 *   running; `close` stops it and frees its port; both idempotent.
 * - Chaos faults (src/proxy/chaos-faults.ts): `setFaults` replaces any set; the proxy clears them by
 *   itself at their deadline, server or not. `clearFaults` is idempotent and returns the report;
 *   `faultReport` reads the current one, or how the last one ended (null when none was set).
 */
export interface EnvironmentProxy {
  setRoutes(table: RouteTable): Promise<void>;
  drained(upstreamId: string, timeoutMs: number): Promise<boolean>;
  window(sinceMs: number, untilMs: number, filter?: { version?: string; pool?: 'stable' | 'canary' }): Promise<WindowStats>;
  readRollups(): Promise<RollupBatch>;
  ackRollups(through: number): Promise<void>;
  prometheus(): Promise<string>;
  setFaults(set: FaultSetRequest): Promise<void>;
  /** The set's service-edge faults take their callers' instances as they are now, counts and deadline kept; absent where the proxy is not a local process. */
  followCallers?(callers: FaultCallersRequest): Promise<void>;
  clearFaults(experimentId: string): Promise<FaultReport | null>;
  faultReport(): Promise<FaultReport | null>;
  detach(): Promise<void>;
  close(): Promise<void>;
}

/** A proxy's request metrics of a time range, as the analysis reads them (`EnvironmentProxy.window`). */
export type RequestWindows = Pick<EnvironmentProxy, 'window'>;

/**
 * Prometheus as an analysis source (./prometheus-source.ts). Never rejects for an unavailable,
 * slow or confused backend: a check that cannot be answered is `null` (inconclusive) with a
 * problem line. Stateless: concurrent calls are safe, and each call asks again.
 */
export interface MetricsSource {
  evaluate(
    checks: PrometheusCheckConfig[],
    vars: { version: string; environment: string },
    at?: Date,
  ): Promise<{ values: Record<string, number | null>; problems: string[] }>;
}

/** The former name of `MetricsSource`. */
export type MetricQuerySource = MetricsSource;

/**
 * Where a rollout's commands are carried out when the environment does not run on this machine
 * (a Kubernetes namespace, server/kubernetes). The driver still reduces and persists; the target
 * carries out each command, one at a time in order, and answers with the events the reducer waits
 * for (`instances-ready`/`instances-failed`, `drained`), which the driver feeds back.
 */
export interface RolloutTarget {
  /**
   * The request metrics of the target's own proxy, read by the canary analysis instead of this
   * machine's proxy (which carries none of the target's traffic). Absent: the analysis reads the
   * environment's proxy as before (only `prometheus:` checks then see the target's traffic).
   */
  readonly measurements?: RequestWindows | undefined;
  execute(command: RolloutCommand): Promise<RolloutEvent[]>;
  /**
   * Waits again for a pool asked for before a restart (the rollout resumed waiting for
   * `instances-ready`), the pods of release `releaseId` (the target takes the pool as running
   * it): resolves with `instances-ready` once they are Ready, or `instances-failed` after the
   * ready timeout. Applies nothing.
   */
  awaitReady(pool: 'canary' | 'stable', releaseId: string): Promise<RolloutEvent[]>;
}

/** What a rollout target is chosen by: the release's config for the environment. */
export interface RolloutTargetInput {
  project: Project;
  environment: string;
  service: ServiceConfig;
  envConfig: EnvironmentConfig;
  release: ReleaseRecord;
  /** What runs before the rollout (null for a first deploy). */
  previous: ReleaseRecord | null;
  instances: number;
  readyTimeoutMs: number;
  /** The environment's secrets by their Gantry name, decrypted (a target that stores them must not log them). */
  secretValues: Record<string, string>;
  /** Set when a canary or blue-green rollout is resumed after a restart with its canary already asked for. */
  resumedCanary?: { weights: { stable: number; canary: number } };
}

/** What the roll-ups of an environment on a target are chosen by: its live release's config. */
export interface RollupsForInput extends Pick<RolloutTargetInput, 'project' | 'environment' | 'envConfig'> {
  /** The id of the project's release with this number (a target's proxy may label versions by number). */
  releaseIdOf(number: number): Promise<string | undefined>;
}

/** A proxy's ten-second roll-ups as the roll-up recorder reads and acknowledges them. */
export type RollupReader = Pick<EnvironmentProxy, 'readRollups' | 'ackRollups'>;

export interface RolloutTargets {
  /** The target of an environment whose config names one (`target.kubernetes`); null: the embedded runtime. */
  targetFor(input: RolloutTargetInput): RolloutTarget | null;
  /**
   * The roll-ups of an environment running on a target, from the target's own proxy (this
   * machine's carries none of its traffic); null: the environment's proxy. The same reader for
   * the same environment every time: it keeps what a read took until it is acknowledged.
   */
  rollupsFor?(input: RollupsForInput): RollupReader | null;
  /**
   * What a chaos experiment takes of an environment a target runs: the target's own proxy (faults
   * and measurements) and its instances (the pods). Null: the embedded runtime's, as before.
   */
  chaosFor?(input: { project: Project; environment: string; envConfig: EnvironmentConfig; releases: ReleaseRecord[] }): TargetChaos | null;
}

/** A target's proxy and instances as a chaos experiment takes them (a Kubernetes namespace's proxy and release pods). */
export interface TargetChaos extends Pick<EnvironmentProxy, 'setFaults' | 'clearFaults' | 'faultReport' | 'window'> {
  /** The instances serving now, with the release id each runs. */
  readyPods(): Promise<{ id: string; release: string }[]>;
  /** Ends one at once (a `kill`: the pod deleted with grace period 0). */
  killPod(id: string): Promise<void>;
}
