/**
 * The proxy pods' roll-ups as the recorder reads them. The pods are real `RequestMetrics` (what a
 * `gantry proxy` pod serves on `/rollups`) on a manual clock; the cluster in front of them is a
 * STAND-IN for the API's pod list and pod proxy (tests that go through HTTP and real proxy
 * processes: test/e2e/k8s-rollups.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { RequestMetrics, ROLLUP_MS } from '../../../src/proxy/index.ts';
import { ClusterRollups } from '../../../src/server/kubernetes/cluster-rollups.ts';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % ROLLUP_MS);

function setup(podNames: readonly string[]) {
  let now = T0;
  const pods = new Map(podNames.map((name) => [name, new RequestMetrics({ environment: 'cluster', now: () => now })]));
  const unreachable = new Set<string>();
  const requests: string[] = [];
  /** Stand-in for the API server: the pods list and the pod proxy onto each pod's metrics. */
  const cluster = {
    pods: async () => [...pods.keys()].map((name) => ({ name, release: '1', ready: true })),
    proxyGet: async (_ns: string, pod: string, _port: number, path: string, method: 'GET' | 'POST' = 'GET') => {
      requests.push(`${method} ${pod} ${path}`);
      const metrics = pods.get(pod);
      if (metrics === undefined || unreachable.has(pod)) throw new Error(`pod ${pod} cannot be reached`);
      if (method === 'GET' && path === 'rollups') return metrics.pendingRollups();
      const through = /^rollups\/ack\?through=(\d+)$/.exec(path);
      if (method === 'POST' && through) return { acknowledged: metrics.ackRollups(Number(through[1])) };
      throw new Error(`no route ${method} ${path}`);
    },
  };
  const rollups = new ClusterRollups({
    cluster,
    namespace: 'shop',
    app: 'shop-production',
    releaseIdOf: async (version) => `rel-${version}`,
    now: () => now,
  });
  const hit = (pod: string, path: string, status: number, latencyMs: number, atMs: number) => {
    const metrics = pods.get(pod) as RequestMetrics;
    metrics.record(metrics.series('1', 'stable'), 'GET', path, status, latencyMs, atMs);
  };
  return {
    rollups,
    hit,
    unreachable,
    requests,
    pending: (pod: string) => (pods.get(pod) as RequestMetrics).pendingRollups().rollups.length,
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe('the proxy pods’ roll-ups', () => {
  it('merges one period of all pods into one roll-up, waits until every pod completed it, and acknowledges each pod', async () => {
    const t = setup(['proxy-0', 'proxy-1']);
    t.hit('proxy-0', '/a', 200, 5, T0 + 1000);
    t.hit('proxy-0', '/a', 500, 5, T0 + 2000);
    t.hit('proxy-1', '/a', 200, 50, T0 + 3000);
    t.hit('proxy-1', '/b', 200, 50, T0 + 4000);

    // Just after the period's end a pod may not have completed it yet: nothing is taken.
    t.at(T0 + ROLLUP_MS + 1000);
    const early = await t.rollups.readRollups();
    expect(early.rollups).toEqual([]);
    await t.rollups.ackRollups(early.through);
    expect(t.pending('proxy-0')).toBe(1);

    t.at(T0 + ROLLUP_MS + 6000);
    const batch = await t.rollups.readRollups();
    expect(batch.rollups).toHaveLength(1);
    const [merged] = batch.rollups;
    expect(merged).toMatchObject({ version: 'rel-1', pool: 'stable', startMs: T0, requests: 4, errors: 1 });
    expect(merged?.statusClasses).toMatchObject({ '2xx': 3, '5xx': 1 });
    expect(merged?.latency.reduce((n, b) => n + b.count, 0)).toBe(4);
    expect(merged?.p99).toBeGreaterThanOrEqual(50);
    const routes = Object.fromEntries((merged?.routes ?? []).map((r) => [r.route, r.requests]));
    expect(Object.values(routes).reduce((n, v) => n + v, 0)).toBe(4);

    // Read again before the acknowledgement (a server that died after storing): the same row.
    const again = await t.rollups.readRollups();
    expect(again.rollups).toEqual(batch.rollups);
    await t.rollups.ackRollups(again.through);
    expect([t.pending('proxy-0'), t.pending('proxy-1')]).toEqual([0, 0]);
  });

  it('acknowledges a pod only up to what it took, and takes nothing while one pod cannot be read', async () => {
    const t = setup(['proxy-0', 'proxy-1']);
    t.hit('proxy-0', '/a', 200, 5, T0 + 1000);
    t.hit('proxy-0', '/a', 200, 5, T0 + ROLLUP_MS + 1000);
    t.at(T0 + 2 * ROLLUP_MS + 1000);
    // The first period is taken, the second (ended a second ago) stays with the pod.
    const batch = await t.rollups.readRollups();
    expect(batch.rollups.map((r) => r.startMs)).toEqual([T0]);
    await t.rollups.ackRollups(batch.through);
    expect(t.pending('proxy-0')).toBe(1);

    t.unreachable.add('proxy-1');
    t.at(T0 + 3 * ROLLUP_MS);
    await expect(t.rollups.readRollups()).rejects.toThrow(/proxy-1/);
    expect(t.pending('proxy-0')).toBe(1);
    expect(t.requests.filter((r) => r.startsWith('POST'))).toEqual(['POST proxy-0 rollups/ack?through=1']);
  });
});
