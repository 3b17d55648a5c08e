/**
 * Carries out a rollout's commands (src/delivery's reducer) in a Kubernetes namespace, as the
 * embedded runtime's supervisor and proxy do on one machine: each command changes the desired
 * state (src/kubernetes), the state is rendered, validated and applied in order, and the events
 * the reducer waits for are answered — `instances-ready` once the pool's pods are Ready,
 * `drained` once a stopped pool is out of the traffic and deleted (the pods then finish their
 * requests within the termination grace period, the runtime's drain timeout).
 *
 * One deployer per environment; commands are carried out one at a time, in order.
 */
import type { EnvironmentConfig, ServiceConfig } from '../../core/delivery-config.ts';
import { GantryError } from '../../core/errors.ts';
import type { RolloutCommand, RolloutEvent } from '../../delivery/index.ts';
// The light modules of src/kubernetes, not its index: the schemas' validators load on the first apply.
import { applyRolloutCommand, type DesiredVersions, initialVersions, type PoolState, placements } from '../../kubernetes/desired-state.ts';
import { type KubernetesObject, type KubernetesRelease, kubernetesTargetOf, renderManifests } from '../../kubernetes/manifests.ts';
import { kubernetesNames, LABELS } from '../../kubernetes/names.ts';
import { ClusterMeasurements } from './cluster-measurements.ts';
import type { ApplyOutcome, KubernetesCluster } from './ports.ts';

export interface KubernetesDeployerDeps {
  cluster: KubernetesCluster;
  project: string;
  environment: string;
  service: ServiceConfig;
  envConfig: EnvironmentConfig;
  /** The release of a release id (the store's number and commit). */
  release(releaseId: string): KubernetesRelease;
  /** What runs in the environment before the rollout (null for a first deploy). */
  current: PoolState | null;
  /** How long a pool's pods may take to become Ready before the reducer hears `instances-failed`. */
  readyTimeoutMs: number;
  now(): number;
  /** A rollout resumed after a restart with its canary already asked for: that pool and the weights, as they were. */
  resumedCanary?: Pick<DesiredVersions, 'canary' | 'weights'>;
  /** The environment's secrets by Gantry name, applied as the `<app>-secrets` Secret (never logged). */
  secretValues?: Readonly<Record<string, string>>;
  /** Told of every apply whose fields another manager held (a hand edit Gantry took over). */
  onConflict?(outcome: ApplyOutcome): void;
}

export class KubernetesDeployer {
  readonly #deps: KubernetesDeployerDeps;
  #state: DesiredVersions;
  /**
   * What the canary analysis reads: the in-cluster proxy's windows. Absent when a Gateway's
   * HTTPRoute splits the traffic (no Gantry proxy measures it; `prometheus:` checks decide).
   */
  readonly measurements: ClusterMeasurements | undefined;

  constructor(deps: KubernetesDeployerDeps) {
    const target = kubernetesTargetOf(deps.envConfig);
    this.#deps = deps;
    this.measurements =
      target.traffic === 'proxy'
        ? new ClusterMeasurements({
            cluster: deps.cluster,
            namespace: target.namespace,
            app: kubernetesNames(deps.project, deps.environment).app,
            versionOf: (releaseId) => String(deps.release(releaseId).number),
          })
        : undefined;
    this.#state = deps.resumedCanary ? { ...initialVersions(deps.current), ...deps.resumedCanary } : initialVersions(deps.current);
  }

  get state(): DesiredVersions {
    return this.#state;
  }

  /** Carries out one command; resolves with the events to report to the reducer, in order. */
  async execute(command: RolloutCommand): Promise<RolloutEvent[]> {
    if (command.type === 'record' || command.type === 'finished') return [];
    const before = this.#state;
    this.#state = applyRolloutCommand(before, command, {
      instances: this.#deps.envConfig.instances ?? this.#deps.service.instances,
      release: (id) => this.#deps.release(id),
    });
    await this.#apply(before);
    if (command.type === 'start-instances') return this.#waitReady(command.pool);
    if (command.type === 'stop-instances' && command.drain) return [{ type: 'drained', at: this.#deps.now(), pool: command.pool }];
    return [];
  }

  /**
   * After a server restart, waits again for the pods of a pool started before it: the pool is
   * taken into the desired state as asked for then (a later apply must not delete it).
   */
  awaitReady(poolName: 'canary' | 'stable', releaseId: string): Promise<RolloutEvent[]> {
    if (this.#state[poolName]?.releaseId !== releaseId) {
      const replicas = this.#deps.envConfig.instances ?? this.#deps.service.instances;
      this.#state = { ...this.#state, [poolName]: { releaseId, release: this.#deps.release(releaseId), replicas } };
    }
    return this.#waitReady(poolName);
  }

  async #waitReady(poolName: 'canary' | 'stable'): Promise<RolloutEvent[]> {
    const pool = this.#state[poolName];
    if (pool === null) return [];
    try {
      await this.#deps.cluster.waitReady(this.#namespace, this.#selector(pool.release), pool.replicas, this.#deps.readyTimeoutMs);
    } catch (error) {
      if (!(error instanceof GantryError)) throw error;
      return [{ type: 'instances-failed', at: this.#deps.now(), pool: poolName, reason: error.message }];
    }
    return [{ type: 'instances-ready', at: this.#deps.now(), pool: poolName }];
  }

  get #namespace(): string {
    return kubernetesTargetOf(this.#deps.envConfig).namespace;
  }

  #selector(release: KubernetesRelease): string {
    const names = kubernetesNames(this.#deps.project, this.#deps.environment);
    return `${LABELS.name}=${names.app},${LABELS.component}=service,${LABELS.release}=${release.number}`;
  }

  /** Applies the state in order, then deletes the Deployment and Service of each release no longer in it. */
  async #apply(before: DesiredVersions): Promise<void> {
    const objects = this.#render();
    const { SCHEMA_VERSION, validateManifests } = await import('../../kubernetes/schema-validation.ts');
    const problems = validateManifests(objects, '1.33');
    if (problems.length > 0) {
      const lines = problems.map((p) => `${p.object} ${p.path || '/'}: ${p.message}`);
      throw new GantryError('KUBERNETES_MANIFEST_INVALID', `the manifests fail the ${SCHEMA_VERSION} schema:\n${lines.join('\n')}`, {
        problems,
      });
    }
    for (const outcome of await this.#deps.cluster.apply(objects)) if (outcome.forced) this.#deps.onConflict?.(outcome);
    const running = new Set(objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name));
    const names = kubernetesNames(this.#deps.project, this.#deps.environment);
    for (const pool of [before.stable, before.canary, before.old]) {
      if (pool === null || running.has(names.version(pool.release.number))) continue;
      const metadata = { name: names.version(pool.release.number), namespace: this.#namespace, labels: {} };
      // Traffic first (applied above), then the Service, then the pods behind it.
      await this.#deps.cluster.delete({ apiVersion: 'v1', kind: 'Service', metadata });
      await this.#deps.cluster.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata });
    }
  }

  #render(): KubernetesObject[] {
    // Between a recreate's stop and start nothing runs: the last objects are deleted, none applied.
    if (this.#state.stable === null && this.#state.canary === null && this.#state.old === null) return [];
    const strategy = this.#deps.envConfig.strategy;
    return renderManifests({
      project: this.#deps.project,
      environment: this.#deps.environment,
      service: this.#deps.service,
      envConfig: this.#deps.envConfig,
      versions: placements(this.#state),
      match: strategy.kind === 'canary' && this.#state.canary !== null ? strategy.match : [],
      ...(this.#deps.secretValues === undefined ? {} : { secretValues: this.#deps.secretValues }),
    });
  }
}
