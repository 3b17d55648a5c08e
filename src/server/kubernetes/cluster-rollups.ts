/**
 * The in-cluster proxy's ten-second roll-ups as the roll-up recorder reads them (the delivery
 * context's `RollupReader`): `GET /rollups` from every Ready proxy pod through the Kubernetes
 * API's pod proxy, and `POST /rollups/ack?through=` to each pod once the recorder stored them.
 *
 * Each pod measures only the requests it carried, and the store keeps one row per (version, pool,
 * start) and skips a row it already holds (how a batch read again after a restart is not counted
 * twice). So a period's roll-ups of all pods are merged into one row, and a period is taken only
 * once every pod has surely completed it: periods that ended a few seconds before the read began
 * (COMPLETION_LAG_MS). A pod is acknowledged only up to
 * the roll-ups taken from it; later ones come back in the next read, whole.
 *
 * Exactly once, as the embedded path: a server killed before storing reads the same roll-ups
 * again; one killed after storing but before acknowledging merges the same pods' same roll-ups
 * into the same rows, which the store skips. A pod that cannot be read fails the whole read
 * (nothing stored, nothing acknowledged), rather than storing a period without its share.
 */
import { PROXY_METRICS_PORT } from '../../kubernetes/manifests.ts';
import { LABELS } from '../../kubernetes/names.ts';
import { ROLLUP_MS, type Rollup, type RollupBatch } from '../../proxy/index.ts';
import { sumWindows } from './cluster-measurements.ts';
import type { KubernetesCluster } from './ports.ts';

export interface ClusterRollupsDeps {
  cluster: Pick<KubernetesCluster, 'pods' | 'proxyGet'>;
  namespace: string;
  /** The environment's app name (`KubernetesNames.app`): its proxy pods carry it as their name label. */
  app: string;
  /** The release id a proxy version label (a release number) stands for; the label itself when unknown. */
  releaseIdOf(version: string): Promise<string>;
  now(): number;
  /** Default COMPLETION_LAG_MS; tests whose pods share this host's clock shorten it to wait less. */
  completionLagMs?: number;
}

/** What one read took from each pod, acknowledged together. */
type PodCursors = { pod: string; through: number }[];

/**
 * How long after a period's end every pod has surely completed it: a pod completes a period on
 * the first read after its end by its own clock, so this is the clock skew between the pods' nodes
 * and this server that is tolerated (a pod's share of a period taken without it would be lost).
 */
const COMPLETION_LAG_MS = 5_000;

/** Reads kept for acknowledging; the recorder acknowledges the read it just stored, so a few suffice. */
const KEPT_READS = 8;

export class ClusterRollups {
  readonly #deps: ClusterRollupsDeps;
  #reads = 0;
  readonly #cursors = new Map<number, PodCursors>();

  constructor(deps: ClusterRollupsDeps) {
    this.#deps = deps;
  }

  /** The completed periods of every Ready proxy pod, merged; `through` names this read for `ackRollups`. */
  async readRollups(): Promise<RollupBatch> {
    const { cluster, namespace, app, now } = this.#deps;
    const takenUntil = Math.floor((now() - (this.#deps.completionLagMs ?? COMPLETION_LAG_MS)) / ROLLUP_MS) * ROLLUP_MS;
    const pods = (await cluster.pods(namespace, `${LABELS.name}=${app},${LABELS.component}=proxy`)).filter((p) => p.ready);
    const batches = await Promise.all(
      pods.map(async (pod) => ({
        pod: pod.name,
        batch: (await cluster.proxyGet(namespace, pod.name, PROXY_METRICS_PORT, 'rollups')) as RollupBatch,
      })),
    );
    const taken: Rollup[] = [];
    const cursors: PodCursors = [];
    let dropped = 0;
    for (const { pod, batch } of batches) {
      dropped += batch.dropped;
      // A pod's roll-ups come in period order, so those taken are a prefix and one cursor acknowledges them.
      const mine = batch.rollups.filter((r) => r.endMs <= takenUntil);
      taken.push(...mine);
      if (mine.length > 0) cursors.push({ pod, through: Math.max(...mine.map((r) => r.seq)) });
    }
    const read = ++this.#reads;
    this.#cursors.set(read, cursors);
    this.#cursors.delete(read - KEPT_READS);
    return { rollups: await this.#merge(taken), through: read, dropped };
  }

  /** Acknowledges to each pod what read `through` took from it; an unknown read acknowledges nothing. */
  async ackRollups(through: number): Promise<void> {
    const cursors = this.#cursors.get(through) ?? [];
    this.#cursors.delete(through);
    const { cluster, namespace } = this.#deps;
    await Promise.all(
      cursors.map((c) => cluster.proxyGet(namespace, c.pod, PROXY_METRICS_PORT, `rollups/ack?through=${c.through}`, 'POST')),
    );
  }

  /** One roll-up per (version, pool, period): the pods' counts added, histograms merged, routes added by route. */
  async #merge(rollups: readonly Rollup[]): Promise<Rollup[]> {
    const groups = new Map<string, Rollup[]>();
    for (const r of rollups) {
      const key = `${r.version}\0${r.pool}\0${r.startMs}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const merged: Rollup[] = [];
    for (const group of groups.values()) {
      const first = group[0] as Rollup;
      const routes = new Map<string, Rollup['routes'][number]>();
      for (const r of group.flatMap((g) => g.routes)) {
        const sum = routes.get(r.route) ?? { route: r.route, requests: 0, errors: 0, statusClasses: {} };
        sum.requests += r.requests;
        sum.errors += r.errors;
        for (const [cls, n] of Object.entries(r.statusClasses)) sum.statusClasses[cls] = (sum.statusClasses[cls] ?? 0) + n;
        routes.set(r.route, sum);
      }
      merged.push({
        ...first,
        ...sumWindows(group),
        seq: 0,
        version: await this.#deps.releaseIdOf(first.version),
        routes: [...routes.values()],
      });
    }
    return merged.sort((a, b) => a.startMs - b.startMs);
  }
}
