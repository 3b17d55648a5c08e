/**
 * SLOs on a Kubernetes environment count the in-cluster proxy's traffic: a real Gantry server
 * deploys through the SCRIPTED Kubernetes API (test/support/scripted-kubernetes-api.ts, a fake: no
 * API server runs here), and its roll-up recorder reads each proxy pod's `/rollups` through the
 * API's pod proxy, which a loopback front (test/support/pod-proxy-front.ts) forwards to two real
 * `gantry proxy --routes FILE` processes standing in for the proxy Deployment's two pods.
 *
 * Requests with errors through both pods show up in the SLO status summed over the pods; a server
 * that stored the pods' roll-ups and died before acknowledging them (a recorder whose
 * acknowledgement fails, on the same store) leaves nothing counted twice by the next server.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configOf } from '../../src/server/delivery/release-config.ts';
import { RollupRecorder } from '../../src/server/delivery/rollup-recorder.ts';
import { KubernetesTargets } from '../../src/server/kubernetes/index.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Project } from '../../src/store/ports.ts';
import type { ClusterProxyPod } from '../support/cluster-proxy-pods.ts';
import { SLO_ON_KUBERNETES, startReleaseBackend, storeReleases } from '../support/kubernetes-releases.ts';
import { type ScriptedCluster, startScriptedCluster } from '../support/scripted-cluster.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

let cluster: ScriptedCluster | undefined;
let dataDir: string;
let kubeconfig: string;
let server: TestServer | undefined;
let project: Project;
let backend: Server;
let proxies: ClusterProxyPod[] = [];
/**
 * The servers store the pods' roll-ups and evaluate the SLOs this often (defaults 10 s and 2 s: each
 * batch waited a period more), and take a period's roll-ups 250 ms after it ends rather than 5 s
 * (the lag is for clock skew between nodes; the pods here share the server's clock).
 */
const RECORDING = { rollupRecordEveryMs: 250, sloEvaluateEveryMs: 500, kubernetesRollupLagMs: 250 };
/** The same lag for the dying server's reader. */
const ROLLUP_LAG_MS = RECORDING.kubernetesRollupLagMs;

function call(port: number, path: string, method = 'GET'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `ok` answered and `failing` failed requests through the proxy pod `pod`. */
async function traffic(pod: number, ok: number, failing: number): Promise<void> {
  const port = (proxies[pod] as { port: number }).port;
  for (let i = 0; i < ok; i++) await call(port, '/');
  for (let i = 0; i < failing; i++) await call(port, '/fail');
}

/** The roll-ups a pod keeps until a server acknowledges them. */
async function pendingRequests(pod: number): Promise<number> {
  const body = JSON.parse(await call((proxies[pod] as { metricsPort: number }).metricsPort, '/rollups')) as {
    rollups: { requests: number }[];
  };
  return body.rollups.reduce((n, r) => n + r.requests, 0);
}

interface SloView {
  slo: { name: string };
  budget: { total: number; bad: number };
}

async function availability(s: TestServer): Promise<{ total: number; bad: number } | undefined> {
  const res = await s.api<{ slos: SloView[] }>('GET', '/api/projects/shop/slos?env=production');
  const slo = res.body.slos?.find((v) => v.slo.name === 'availability');
  return slo && { total: slo.budget.total, bad: slo.budget.bad };
}

/** The availability SLO's counts once it counted at least `total` events. */
function sloCounts(s: TestServer, total: number): Promise<{ total: number; bad: number }> {
  return waitFor(
    async () => {
      const slo = await availability(s);
      return slo !== undefined && slo.total >= total ? slo : undefined;
    },
    { what: `the SLO to count ${total} requests of the proxy pods`, timeoutMs: 60_000 },
  );
}

beforeAll(async () => {
  backend = await startReleaseBackend();
  // The mounted route file, as the kubelet would write it from the ConfigMap: release 1 behind a real backend.
  cluster = await startScriptedCluster({
    name: 'k8s-rollups',
    release1Upstream: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
  });
  proxies = cluster.proxies;
  dataDir = join(cluster.dir, 'data');
  kubeconfig = cluster.kubeconfig;
  server = await startTestServer({ dataDir, start: RECORDING });
  project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(server.store, project.id, [{ sha: '1'.repeat(40), configText: SLO_ON_KUBERNETES(kubeconfig) }]);
}, 60_000);

afterAll(async () => {
  await server?.cleanup();
  await cluster?.stop();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
});

describe('SLOs on a Kubernetes environment', () => {
  it('count the proxy pods’ roll-ups, summed over the pods, exactly once across a server that died before acknowledging', async () => {
    const running = server as TestServer;
    const deployed = await running.api('POST', '/api/projects/shop/environments/production/deploy', { release: '1' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    await waitFor(
      async () => {
        const res = await running.api<{ rollout: { phase: string } }>('GET', '/api/projects/shop/environments/production/rollout');
        return res.body.rollout.phase === 'succeeded' || undefined;
      },
      { what: 'release 1 to be deployed', timeoutMs: 30_000 },
    );

    // 45 requests, 15 of them failing, through the two pods.
    await traffic(0, 20, 10);
    await traffic(1, 10, 5);
    const counted = await sloCounts(running, 45);
    expect(counted).toEqual({ total: 45, bad: 15 });
    // The SLO counts the pods' live seconds too: their roll-ups are stored a period or so later.
    await waitFor(
      async () => {
        const rows = await running.store.metrics.query({
          projectId: project.id,
          environment: 'production',
          sinceMs: 0,
          untilMs: Date.now(),
        });
        return rows.reduce((n, r) => n + r.requests, 0) >= 45 || undefined;
      },
      { what: 'the server to store the first 45 requests’ roll-ups', timeoutMs: 30_000 },
    );

    // The server stops (acknowledging what it stored); 20 more requests, 4 failing, while none runs.
    await running.close();
    server = undefined;
    await traffic(0, 8, 3);
    await traffic(1, 8, 1);

    // A server that stores them and dies before acknowledging: its acknowledgement never arrives.
    const store = await openStore({ url: `sqlite:${join(dataDir, 'gantry.db')}` });
    try {
      const release = await store.releases.getByNumber(project.id, 1);
      if (release === undefined) throw new Error('release 1 is gone');
      const { envConfig } = configOf(release, 'production');
      const reader = new KubernetesTargets({ now: () => Date.now(), rollupCompletionLagMs: ROLLUP_LAG_MS }).rollupsFor({
        project,
        environment: 'production',
        envConfig,
        releaseIdOf: async (n) => (await store.releases.getByNumber(project.id, n))?.id,
      });
      if (reader === null) throw new Error('no roll-up reader for a proxy-traffic Kubernetes environment');
      const dying = new RollupRecorder(
        store,
        {
          rollupSources: () => [
            {
              projectId: project.id,
              environment: 'production',
              proxy: { readRollups: () => reader.readRollups(), ackRollups: () => Promise.reject(new Error('the server died')) },
            },
          ],
        },
        () => undefined,
      );
      await waitFor(
        async () => {
          await dying.flush();
          const rows = await store.metrics.query({ projectId: project.id, environment: 'production', sinceMs: 0, untilMs: Date.now() });
          return rows.reduce((n, r) => n + r.requests, 0) >= 65 || undefined;
        },
        { what: 'the dying server to store the second batch', timeoutMs: 30_000, intervalMs: 500 },
      );
      await dying.stop().catch(() => undefined);
    } finally {
      await store.close();
    }
    expect((await pendingRequests(0)) + (await pendingRequests(1))).toBe(20);

    // The next server reads the same roll-ups, stores nothing twice, and acknowledges them.
    const next = await startTestServer({ dataDir, start: RECORDING });
    server = next;
    await waitFor(async () => ((await pendingRequests(0)) + (await pendingRequests(1)) === 0 ? true : undefined), {
      what: 'the next server to acknowledge the pods’ roll-ups',
      timeoutMs: 30_000,
    });
    const rows = await next.store.metrics.query({ projectId: project.id, environment: 'production', sinceMs: 0, untilMs: Date.now() });
    expect(rows.reduce((n, r) => ({ requests: n.requests + r.requests, errors: n.errors + r.errors }), { requests: 0, errors: 0 })).toEqual(
      {
        requests: 65,
        errors: 19,
      },
    );
    // Stored under the release id, as the embedded proxy's roll-ups are (the pods label releases by number).
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set([(await next.store.releases.getByNumber(project.id, 1))?.id]));
    const final = await sloCounts(next, 65);
    expect(final).toEqual({ total: 65, bad: 19 });
  }, 180_000);
});
