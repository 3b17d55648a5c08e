/**
 * Chooses where a rollout runs: an environment whose release config has `target.kubernetes` gets
 * a `KubernetesDeployer` in its namespace (the delivery context's `RolloutTargets` port, wired in
 * server/start.ts), every other environment the embedded runtime. The cluster's credentials are
 * the environment's own: the kubeconfig and context its config names, else client-node's default
 * order (`$KUBECONFIG`, `~/.kube/config`, then the pod's service account). One cluster client per
 * set of credentials, shared by the environments that name the same ones.
 */
import type { EnvironmentConfig, ServiceConfig } from '../../core/delivery-config.ts';
import { InputError } from '../../core/errors.ts';
import { type KubernetesRelease, kubernetesTargetOf } from '../../kubernetes/manifests.ts';
import { kubernetesNames } from '../../kubernetes/names.ts';
import { ClusterFaultProxy } from './cluster-chaos.ts';
import { type ClusterCredentials, ClientNodeCluster } from './client-node-cluster.ts';
import { ClusterRollups } from './cluster-rollups.ts';
import { KubernetesDeployer } from './kubernetes-deployer.ts';
import type { ApplyOutcome, KubernetesCluster } from './ports.ts';

interface ReleaseRef {
  id: string;
  number: number;
  sha: string;
}

/** What the delivery context gives when it starts a rollout (its `RolloutTargetInput`). */
export interface KubernetesTargetInput {
  project: { name: string };
  environment: string;
  service: ServiceConfig;
  envConfig: EnvironmentConfig;
  release: ReleaseRef;
  previous: ReleaseRef | null;
  instances: number;
  readyTimeoutMs: number;
  /** The environment's secrets by Gantry name, decrypted. */
  secretValues: Readonly<Record<string, string>>;
  /** Set when a rollout is resumed after a restart with its canary started: the weights it had. */
  resumedCanary?: { weights: { stable: number; canary: number } };
}

/** What the delivery context gives when a chaos experiment asks for an environment. */
export interface KubernetesChaosInput {
  project: { name: string };
  environment: string;
  envConfig: EnvironmentConfig;
  /** The releases running there (stable, and a rollout's): pods name them by number. */
  releases: readonly ReleaseRef[];
}

/** What the delivery context gives when the roll-up recorder asks for an environment's roll-ups (its `RollupsForInput`). */
export interface KubernetesRollupsInput {
  project: { name: string };
  environment: string;
  envConfig: EnvironmentConfig;
  releaseIdOf(number: number): Promise<string | undefined>;
}

export interface KubernetesTargetsDeps {
  now(): number;
  /** The cluster client of a set of credentials; default the client-node adapter. */
  connect?(credentials: ClusterCredentials): KubernetesCluster;
  /** Told of every apply that took fields over from another manager. */
  onConflict?(environment: string, outcome: ApplyOutcome): void;
  /** How long after a period's end the proxy pods' roll-ups are taken (ClusterRollupsDeps.completionLagMs). */
  rollupCompletionLagMs?: number;
}

export class KubernetesTargets {
  readonly #deps: KubernetesTargetsDeps;
  readonly #clusters = new Map<string, KubernetesCluster>();
  readonly #rollups = new Map<string, ClusterRollups>();

  constructor(deps: KubernetesTargetsDeps) {
    this.#deps = deps;
  }

  targetFor(input: KubernetesTargetInput): KubernetesDeployer | null {
    const target = input.envConfig.target?.kubernetes;
    if (target === undefined) return null;
    const cluster = this.#clusterOf(target);
    const releases = new Map<string, KubernetesRelease>();
    for (const r of [input.release, input.previous]) if (r) releases.set(r.id, { number: r.number, sha: r.sha });
    const { previous } = input;
    return new KubernetesDeployer({
      cluster,
      project: input.project.name,
      environment: input.environment,
      service: input.service,
      envConfig: input.envConfig,
      release: (id) => {
        const release = releases.get(id);
        if (release === undefined) throw new InputError(`release ${id} is not part of this rollout`);
        return release;
      },
      // The previous release runs as many pods as this one asks for: the count is the environment's.
      current: previous
        ? { releaseId: previous.id, release: { number: previous.number, sha: previous.sha }, replicas: input.instances }
        : null,
      readyTimeoutMs: input.readyTimeoutMs,
      secretValues: input.secretValues,
      ...(input.resumedCanary === undefined
        ? {}
        : {
            resumedCanary: {
              canary: {
                releaseId: input.release.id,
                release: { number: input.release.number, sha: input.release.sha },
                replicas: input.instances,
              },
              weights: input.resumedCanary.weights,
            },
          }),
      now: this.#deps.now,
      onConflict: (outcome) => this.#deps.onConflict?.(input.environment, outcome),
    });
  }

  /**
   * The roll-ups of an environment whose traffic the in-cluster proxy carries, one reader per
   * environment and place (it keeps what each read took until acknowledged); null for a Gateway's
   * traffic split, which no Gantry proxy measures.
   */
  rollupsFor(input: KubernetesRollupsInput): ClusterRollups | null {
    const target = input.envConfig.target?.kubernetes;
    if (target === undefined || kubernetesTargetOf(input.envConfig).traffic !== 'proxy') return null;
    const app = kubernetesNames(input.project.name, input.environment).app;
    const key = JSON.stringify([target.kubeconfig ?? null, target.context ?? null, target.namespace, app]);
    let rollups = this.#rollups.get(key);
    if (rollups === undefined) {
      rollups = new ClusterRollups({
        cluster: this.#clusterOf(target),
        namespace: target.namespace,
        app,
        releaseIdOf: async (version) => (await input.releaseIdOf(Number(version))) ?? version,
        now: this.#deps.now,
        completionLagMs: this.#deps.rollupCompletionLagMs,
      });
      this.#rollups.set(key, rollups);
    }
    return rollups;
  }

  /**
   * What a chaos experiment takes of an environment deployed by `targetFor`: its proxy pods (the
   * faults, their report, the steady state) and its release pods (`kill`). Null for an environment
   * of the embedded runtime, or whose traffic a Gateway splits (no Gantry proxy carries it).
   */
  chaosFor(input: KubernetesChaosInput): ClusterFaultProxy | null {
    const target = input.envConfig.target?.kubernetes;
    if (target === undefined) return null;
    const resolved = kubernetesTargetOf(input.envConfig);
    if (resolved.traffic !== 'proxy') return null;
    const byId = new Map(input.releases.map((r) => [r.id, String(r.number)]));
    const byNumber = new Map(input.releases.map((r) => [String(r.number), r.id]));
    return new ClusterFaultProxy({
      cluster: this.#clusterOf(target),
      namespace: resolved.namespace,
      app: kubernetesNames(input.project.name, input.environment).app,
      versionOf: (releaseId) => byId.get(releaseId) ?? releaseId,
      releaseIdOf: (number) => byNumber.get(number),
    });
  }

  /** One cluster client per set of credentials. */
  #clusterOf(target: { kubeconfig?: string | undefined; context?: string | undefined }): KubernetesCluster {
    const credentials: ClusterCredentials = {};
    if (target.kubeconfig !== undefined) credentials.kubeconfig = target.kubeconfig;
    if (target.context !== undefined) credentials.context = target.context;
    const key = JSON.stringify([credentials.kubeconfig ?? null, credentials.context ?? null]);
    let cluster = this.#clusters.get(key);
    if (cluster === undefined) {
      cluster = this.#deps.connect?.(credentials) ?? new ClientNodeCluster(credentials);
      this.#clusters.set(key, cluster);
    }
    return cluster;
  }
}
