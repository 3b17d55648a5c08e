/**
 * What the chaos context needs from the rest of the server, each a small port wired in start.ts:
 * the environment's proxy and releases (from delivery), the SLO budgets (for the guard), time.
 */
import type { Clock } from '../../core/clock.ts';
import type { Store, EventEnvironment } from '../../store/ports.ts';
import type { EnvironmentInstances, EnvironmentProxy, TargetChaos } from '../delivery/index.ts';

export type { Clock };

/** The parts of an environment's proxy an experiment uses: faults (set with a deadline), their report, the request metrics. */
export type FaultProxy = Pick<EnvironmentProxy, 'setFaults' | 'followCallers' | 'clearFaults' | 'faultReport' | 'window'>;

/** A running environment as an experiment sees it. */
export interface ChaosTarget {
  proxy: FaultProxy;
  /** The release it runs. */
  release: string | null;
  /** The release a rollout under way is bringing in; null when none is. */
  rolloutRelease: string | null;
  /** Its instances, for instance faults; null where they are not processes of this host (fakes). */
  instances?: EnvironmentInstances | null;
  /** Set where the instances are a cluster's pods (a Kubernetes target): only `kill` takes them, by deleting. */
  pods?: Pick<TargetChaos, 'readyPods' | 'killPod'>;
  /**
   * Set where a Gateway API HTTPRoute splits the environment's traffic (a Kubernetes target with
   * `traffic: gateway`): no Gantry proxy carries it, so `proxy` is not in its requests' path.
   */
  gateway?: boolean;
}

export interface ChaosDeps {
  store: Store;
  clock: Clock;
  /** The environment as it runs here now; undefined when it is not running. */
  target(projectId: string, environment: string): Promise<ChaosTarget | undefined>;
  /** Each SLO of the environment with the share of its error budget left (the guard's `min-budget`). */
  budgets(projectId: string, environment: string): { slo: string; remaining: number }[];
  eventEnv(): EventEnvironment;
  /** The instance keys of an environment's running instances (a fault on the edge from that caller); none where instances are not processes. */
  instanceKeys?(projectId: string, environment: string): string[];
  /** Calls `listener` when an instance of any environment changes (started, stopped…); returns the unsubscribe. */
  onInstanceChange?(listener: () => void): () => void;
  /** The `.gantry/experiments/*.yaml` files of a project's commit; none when absent (or not wired: tests). */
  experimentFiles?(projectId: string, sha: string): Promise<{ file: string; text: string }[]>;
  /** Something about the project's experiments changed (the dashboard's stream). */
  changed?(projectId: string): void;
  warn(message: string, data: Record<string, unknown>): void;
}
