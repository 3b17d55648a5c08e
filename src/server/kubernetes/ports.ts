/**
 * The Kubernetes side of a deploy, as one small port: what Gantry asks of a cluster. The
 * adapter (`client-node-cluster.ts`) speaks the Kubernetes API through @kubernetes/client-node;
 * tests run it against a scripted API server on loopback.
 */
import type { KubernetesObject } from '../../kubernetes/index.ts';

/** A pod of the environment as the cluster reports it. */
export interface PodReadiness {
  name: string;
  /** The `gantry.dev/release` label: the release number the pod runs. */
  release: string;
  /** The pod's Ready condition is True (its readiness probe passes and it is not terminating). */
  ready: boolean;
}

/** How an apply went: `forced` when another field manager held fields Gantry set, and Gantry took them. */
export interface ApplyOutcome {
  object: string;
  forced: boolean;
  /** The other managers of the fields, from the API's conflict causes (empty unless forced). */
  conflicts: string[];
}

export interface KubernetesCluster {
  /**
   * Server-side apply of each object, in order (field manager `gantry`): a Deployment is applied
   * before the traffic that reaches it. Idempotent: applying the same objects again changes
   * nothing. A conflict with another field manager is taken over (docs/decisions/0038) and
   * reported in the outcome. Rejects on the first object the API refuses.
   */
  apply(objects: readonly KubernetesObject[]): Promise<ApplyOutcome[]>;
  /** The pods matching a label selector in a namespace, now. */
  pods(namespace: string, labelSelector: string): Promise<PodReadiness[]>;
  /**
   * Resolves once at least `count` pods matching the selector are ready (a list, then a watch
   * from the list's resourceVersion, so no change between them is missed); rejects at the deadline.
   */
  waitReady(namespace: string, labelSelector: string, count: number, timeoutMs: number): Promise<void>;
  /** Deletes an object by kind and name; a missing one is not an error. */
  delete(object: Pick<KubernetesObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<void>;
  /**
   * `GET <path>` (or `method`) on a pod's port through the API server's pod proxy
   * (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/<path>`), as JSON; rejects on a non-2xx answer.
   */
  proxyGet(namespace: string, pod: string, port: number, path: string, method?: 'GET' | 'POST'): Promise<unknown>;
  /** As `proxyGet`, with a method and a JSON body (a chaos experiment's faults); null for an empty answer. */
  proxyCall(
    namespace: string,
    pod: string,
    port: number,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<unknown>;
  /** Deletes a pod at once (grace period 0: a chaos `kill`); a missing one is not an error. */
  deletePod(namespace: string, pod: string): Promise<void>;
}
