/**
 * A chaos experiment on a Kubernetes environment: the faults go to every Ready in-cluster proxy
 * pod's metrics port through the API's pod proxy (`PUT /faults`, the same body the embedded
 * proxy's control socket takes), each pod enforcing the deadline itself, so the faults end on time
 * with the server gone; the report is the pods' reports summed, as the analysis sums their
 * windows. Instances are the pods: `kill` deletes a release's pod with grace period 0; the other
 * instance faults act on a process of this host and are refused before a run starts
 * (docs/decisions/0038).
 */
import type { FaultReport, FaultSetRequest, LatencyBucket } from '../../proxy/index.ts';
import { PROXY_METRICS_PORT } from '../../kubernetes/manifests.ts';
import { LABELS } from '../../kubernetes/names.ts';
import { ClusterMeasurements, type ClusterMeasurementsDeps } from './cluster-measurements.ts';

/** The failed requests a summed report names, as one pod's does (the counts go on). */
const MAX_FAILED_KEPT = 100;

export interface ClusterChaosDeps extends ClusterMeasurementsDeps {
  /** The release id of a release number (the pods' `gantry.dev/release` label); undefined for one not running. */
  releaseIdOf(number: string): string | undefined;
}

/** The environment's proxy pods as one fault proxy (the chaos context's `FaultProxy`). */
export class ClusterFaultProxy {
  readonly #deps: ClusterChaosDeps;
  readonly #measurements: ClusterMeasurements;

  constructor(deps: ClusterChaosDeps) {
    this.#deps = deps;
    this.#measurements = new ClusterMeasurements(deps);
  }

  window(sinceMs: number, untilMs: number, filter: { version?: string; pool?: 'stable' | 'canary' } = {}) {
    return this.#measurements.window(sinceMs, untilMs, filter);
  }

  /**
   * Sets the faults on every Ready proxy pod. When one refuses, those already set are cleared and
   * the error thrown: an experiment on part of the traffic only would judge a smaller blast radius
   * than it declared.
   */
  async setFaults(set: FaultSetRequest): Promise<void> {
    const pods = await this.#proxyPods();
    const results = await Promise.allSettled(pods.map((pod) => this.#call(pod, 'PUT', 'faults', set)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return;
    await Promise.allSettled(pods.map((pod) => this.#call(pod, 'DELETE', `faults?experiment=${encodeURIComponent(set.experimentId)}`)));
    throw failed.reason;
  }

  /** Clears them on every proxy pod (idempotent); rejects when one could not be told, so the caller retries. */
  async clearFaults(experimentId: string): Promise<FaultReport | null> {
    const pods = await this.#proxyPods(false);
    const reports = await Promise.all(
      pods.map((pod) => this.#call(pod, 'DELETE', `faults?experiment=${encodeURIComponent(experimentId)}`)),
    );
    return sumFaultReports(reports as (FaultReport | null)[], experimentId);
  }

  async faultReport(): Promise<FaultReport | null> {
    const pods = await this.#proxyPods();
    const reports = await Promise.all(pods.map((pod) => this.#call(pod, 'GET', 'faults')));
    return sumFaultReports(reports as (FaultReport | null)[]);
  }

  /** The release pods serving now, by the release id each runs (instances are the pods). */
  async readyPods(): Promise<{ id: string; release: string }[]> {
    const { cluster, namespace, app } = this.#deps;
    const pods = await cluster.pods(namespace, `${LABELS.name}=${app},${LABELS.component}=service`);
    return pods.flatMap((p) => {
      const release = this.#deps.releaseIdOf(p.release);
      return p.ready && release !== undefined ? [{ id: p.name, release }] : [];
    });
  }

  /** A chaos `kill`: the pod deleted at once (grace period 0); its Deployment starts another. */
  killPod(name: string): Promise<void> {
    return this.#deps.cluster.deletePod(this.#deps.namespace, name);
  }

  async #proxyPods(readyOnly = true): Promise<string[]> {
    const { cluster, namespace, app } = this.#deps;
    const pods = await cluster.pods(namespace, `${LABELS.name}=${app},${LABELS.component}=proxy`);
    return pods.filter((p) => p.ready || !readyOnly).map((p) => p.name);
  }

  #call(pod: string, method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    return this.#deps.cluster.proxyCall(this.#deps.namespace, pod, PROXY_METRICS_PORT, method, path, body);
  }
}

/**
 * Several pods' reports as one: those of `experimentId` (default the one set last), counts added
 * per fault and side, histograms merged, the failures by time. Ended only when every pod's ended
 * (a deadline on one is a deadline of the run); null when no pod has one.
 */
export function sumFaultReports(reports: readonly (FaultReport | null)[], experimentId?: string): FaultReport | null {
  const present = reports.filter((r): r is FaultReport => r !== null);
  const id = experimentId ?? [...present].sort((a, b) => b.setAt - a.setAt)[0]?.experimentId;
  const mine = present.filter((r) => r.experimentId === id);
  const first = mine[0];
  if (first === undefined) return null;
  const allEnded = mine.every((r) => r.endedAt !== null);
  const byFault = first.byFault.map((_, i) => mine.reduce((n, r) => n + (r.byFault[i] ?? 0), 0));
  const lastFaulted = mine.flatMap((r) => (r.lastFaultedAt === null ? [] : [r.lastFaultedAt]));
  return {
    experimentId: first.experimentId,
    setAt: Math.min(...mine.map((r) => r.setAt)),
    deadlineAt: Math.max(...mine.map((r) => r.deadlineAt)),
    endedAt: allEnded ? Math.max(...mine.map((r) => r.endedAt as number)) : null,
    endedBy: allEnded ? (mine.some((r) => r.endedBy === 'deadline') ? 'deadline' : 'cleared') : null,
    affected: mine.reduce((n, r) => n + r.affected, 0),
    byFault,
    unaffected: mine.reduce((n, r) => n + r.unaffected, 0),
    lastFaultedAt: lastFaulted.length === 0 ? null : Math.max(...lastFaulted),
    inside: sumSamples(mine.map((r) => r.inside)),
    outside: sumSamples(mine.map((r) => r.outside)),
  };
}

type SampleJson = FaultReport['inside'];

function sumSamples(samples: readonly SampleJson[]): SampleJson {
  const buckets = new Map<number, number>();
  for (const s of samples) for (const b of s.latency) buckets.set(b.valueMs, (buckets.get(b.valueMs) ?? 0) + b.count);
  const latency: LatencyBucket[] = [...buckets].sort((a, b) => a[0] - b[0]).map(([valueMs, count]) => ({ valueMs, count }));
  return {
    requests: samples.reduce((n, s) => n + s.requests, 0),
    errors: samples.reduce((n, s) => n + s.errors, 0),
    latency,
    failed: samples
      .flatMap((s) => s.failed)
      .sort((a, b) => a.at - b.at)
      .slice(0, MAX_FAILED_KEPT),
  };
}
