/**
 * The in-cluster proxy's request metrics as the canary analysis reads them (the delivery
 * context's `RequestWindows`): the same `GET /window` the embedded proxy answers, read from each
 * Ready proxy pod's metrics port through the Kubernetes API's pod proxy, with the cluster
 * credentials the deploy uses. The metrics port stays off every Service, so nothing outside the
 * cluster reaches it except through the API (RBAC `pods/proxy` get). Each pod measures only the
 * requests it carried, so the windows are summed: a Service proxy would answer from one pod only.
 */
import { GantryError } from '../../core/errors.ts';
import { PROXY_METRICS_PORT } from '../../kubernetes/manifests.ts';
import { LABELS } from '../../kubernetes/names.ts';
import type { LatencyBucket, WindowStats } from '../../proxy/index.ts';
import type { KubernetesCluster } from './ports.ts';

export interface ClusterMeasurementsDeps {
  cluster: KubernetesCluster;
  namespace: string;
  /** The environment's app name (`KubernetesNames.app`): its proxy pods carry it as their name label. */
  app: string;
  /** The proxy's version label of a release id: the rendered route file names releases by number. */
  versionOf(releaseId: string): string;
}

export class ClusterMeasurements {
  readonly #deps: ClusterMeasurementsDeps;

  constructor(deps: ClusterMeasurementsDeps) {
    this.#deps = deps;
  }

  /** The requests of `[sinceMs, untilMs)` over every Ready proxy pod; rejects when one cannot be read. */
  async window(sinceMs: number, untilMs: number, filter: { version?: string; pool?: 'stable' | 'canary' } = {}): Promise<WindowStats> {
    const { cluster, namespace, app } = this.#deps;
    const pods = (await cluster.pods(namespace, `${LABELS.name}=${app},${LABELS.component}=proxy`)).filter((p) => p.ready);
    if (pods.length === 0)
      throw new GantryError('KUBERNETES_NOT_READY', `no Ready proxy pod of ${app} in ${namespace} to read measurements from`);
    const query = new URLSearchParams({ since: String(sinceMs), until: String(untilMs) });
    if (filter.version !== undefined) query.set('version', this.#deps.versionOf(filter.version));
    if (filter.pool !== undefined) query.set('pool', filter.pool);
    const windows = await Promise.all(
      pods.map(async (pod) => (await cluster.proxyGet(namespace, pod.name, PROXY_METRICS_PORT, `window?${query}`)) as WindowStats),
    );
    return sumWindows(windows);
  }
}

/** The windows of several proxies as one: counts added, latency histograms merged, quantiles read from the merge. */
export function sumWindows(windows: readonly WindowStats[]): WindowStats {
  const buckets = new Map<number, number>();
  const statusClasses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let connectionErrors = 0;
  for (const w of windows) {
    requests += w.requests;
    errors += w.errors;
    connectionErrors += w.connectionErrors;
    for (const [cls, n] of Object.entries(w.statusClasses)) statusClasses[cls] = (statusClasses[cls] ?? 0) + n;
    for (const b of w.latency) buckets.set(b.valueMs, (buckets.get(b.valueMs) ?? 0) + b.count);
  }
  const latency: LatencyBucket[] = [...buckets].sort((a, b) => a[0] - b[0]).map(([valueMs, count]) => ({ valueMs, count }));
  const total = latency.reduce((n, b) => n + b.count, 0);
  const quantile = (q: number): number => {
    let seen = 0;
    for (const b of latency) {
      seen += b.count;
      if (seen >= q * total) return b.valueMs;
    }
    return 0;
  };
  return { requests, errors, connectionErrors, statusClasses, latency, p50: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99) };
}
