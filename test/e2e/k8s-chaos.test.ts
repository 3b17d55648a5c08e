/**
 * Chaos experiments on a Kubernetes environment: a real Gantry server deploys through the SCRIPTED
 * Kubernetes API (test/support/scripted-kubernetes-api.ts, a fake: no API server runs here), and
 * sets an experiment's faults on each in-cluster proxy pod through the API's pod proxy, which a
 * loopback front (test/support/pod-proxy-front.ts) forwards to two real `gantry proxy --routes FILE`
 * processes standing in for the proxy Deployment's two pods. Clients load both proxies throughout.
 * - an abort at 50 % faults about half the requests through both pods, the hypothesis (read from
 *   the pods' summed reports) breaks, the run halts and both pods' faults are gone;
 * - a kill deletes one of the release's pods through the API with grace period 0;
 * - an instance fault that acts on a process of this host (pause) is refused with its code.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterProxyPod } from '../support/cluster-proxy-pods.ts';
import { shopOnKubernetes, storeReleases } from '../support/kubernetes-releases.ts';
import type { PodProxyFront } from '../support/pod-proxy-front.ts';
import type { ScriptedKubernetesApi } from '../support/scripted-kubernetes-api.ts';
import { type ScriptedCluster, startScriptedCluster } from '../support/scripted-cluster.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG = (kubeconfig: string) =>
  shopOnKubernetes(kubeconfig, {
    instances: 2,
    rest: `experiments:
  half-aborts:
    environment: production
    hypothesis: { error-rate: { max: 5% } }
    faults:
      - abort: { status: 503, percent: 50 }
    duration: 60s
    before: 1s
    after: 1s
  kill-one:
    environment: production
    hypothesis: { error-rate: { max: 50% } }
    faults:
      - kill: { instances: 1 }
    duration: 2s
    before: 1s
    after: 1s
  pause-one:
    environment: production
    hypothesis: { error-rate: { max: 50% } }
    faults:
      - pause: { instances: 1 }
    duration: 2s
`,
  });

const ROUTES = '/api/v1/namespaces/shop/configmaps/shop-production-routes';

let cluster: ScriptedCluster | undefined;
let api: ScriptedKubernetesApi;
let front: PodProxyFront;
let server: TestServer;
let backend: Server;
let proxies: ClusterProxyPod[] = [];
let routesFile: string;
let syncing: NodeJS.Timeout | undefined;
let loading = true;
let load: Promise<void> | undefined;
/** Every answer through each proxy pod: when it arrived and its status. */
const answers: { at: number; status: number }[][] = [[], []];

/** The kubelet's part: the mounted route file follows the applied ConfigMap, the Service resolved to the backend. */
function syncRoutes(): void {
  const configMap = api.objects.get(ROUTES);
  if (configMap === undefined) return;
  const port = (backend.address() as AddressInfo).port;
  const text = String(configMap.data['routes.json']).replace(/http:\/\/shop-production-r\d+\.shop\.svc:\d+/g, `http://127.0.0.1:${port}`);
  writeFileSync(`${routesFile}.next`, text);
  renameSync(`${routesFile}.next`, routesFile);
}

function call(port: number, method = 'GET', path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

beforeAll(async () => {
  backend = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  cluster = await startScriptedCluster({
    name: 'k8s-chaos',
    release1Upstream: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
  });
  ({ api, front, proxies, routesFile } = cluster);
  const { kubeconfig } = cluster;
  syncing = setInterval(syncRoutes, 50);
  load = (async () => {
    while (loading)
      await Promise.all(
        proxies.map(async (p, i) => {
          const { status } = await call(p.port);
          answers[i]?.push({ at: Date.now(), status });
        }),
      );
  })();
  server = await startTestServer();
  const project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(server.store, project.id, [{ sha: '1'.repeat(40), configText: CONFIG(kubeconfig) }]);
  const res = await server.api('POST', '/api/projects/shop/environments/production/deploy', { release: '1' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  await waitFor(
    async () =>
      (await server.api<{ rollout: { phase: string } }>('GET', '/api/projects/shop/environments/production/rollout')).body.rollout.phase ===
      'succeeded',
    { what: 'release 1 to be deployed', timeoutMs: 30_000 },
  );
}, 60_000);

afterAll(async () => {
  loading = false;
  await load;
  clearInterval(syncing);
  await server?.cleanup();
  await cluster?.stop();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
});

interface Run {
  verdict: string | null;
  reason: string | null;
  affected: number;
  unaffected: number;
  brokenAt: number | null;
  revertedAt: number | null;
  running?: boolean;
  instanceFaults?: { kind: string; instanceId: string; release: string }[];
}

async function start(name: string): Promise<string> {
  const res = await server.api<{ experiment: { experimentId: string } }>('POST', `/api/projects/shop/experiments/${name}/run`, {});
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.experiment.experimentId;
}

const finished = (id: string) =>
  waitFor(
    async () => {
      const run = (await server.api<{ run: Run }>('GET', `/api/projects/shop/experiment-runs/${id}`)).body.run;
      return run.running ? undefined : run;
    },
    { what: `experiment ${id} to finish`, timeoutMs: 30_000 },
  );

describe('chaos experiments on a Kubernetes environment', () => {
  it('an abort at 50 % faults about half the requests through both proxy pods, breaks the hypothesis, halts, and leaves no fault', async () => {
    const id = await start('half-aborts');
    const run = await finished(id);
    expect(run.verdict, run.reason ?? '').toBe('broken');
    expect(run.reason).toContain('error-rate');
    // Both pods' counts, summed: about half (a binomial share, far inside these bounds at this count).
    const total = run.affected + run.unaffected;
    expect(total).toBeGreaterThan(20);
    expect(run.affected / total).toBeGreaterThan(0.25);
    expect(run.affected / total).toBeLessThan(0.75);
    // Each pod faulted its own share of its traffic.
    for (const pod of answers) expect(pod.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    // The faults are gone from both pods: their reports say cleared, and traffic is served again.
    for (const p of proxies) {
      const report = JSON.parse((await call(p.metricsPort, 'GET', '/faults')).body) as { experimentId: string; endedBy: string | null };
      expect(report).toMatchObject({ experimentId: id, endedBy: 'cleared' });
    }
    const revertedAt = run.revertedAt as number;
    for (const pod of answers)
      await waitFor(() => pod.some((a) => a.at > revertedAt + 200) || undefined, { what: 'requests after the halt' });
    for (const pod of answers) expect(pod.filter((a) => a.at > revertedAt + 200 && a.status !== 200)).toEqual([]);
    expect(front.forwarded).toEqual(expect.arrayContaining(['shop-production-proxy-0 /faults', 'shop-production-proxy-1 /faults']));
  }, 60_000);

  it('a kill deletes one of the release’s pods through the API, at once (grace period 0)', async () => {
    const id = await start('kill-one');
    const run = await finished(id);
    expect(run.verdict, run.reason ?? '').toBe('held');
    const deletes = api.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/api/v1/namespaces/shop/pods/'));
    expect(deletes).toHaveLength(1);
    const killed = deletes[0]?.path.split('/').at(-1);
    expect(['shop-production-r1-0', 'shop-production-r1-1']).toContain(killed);
    expect(deletes[0]?.query.gracePeriodSeconds).toBe('0');
    expect(run.instanceFaults).toEqual([expect.objectContaining({ kind: 'kill', instanceId: killed })]);
  }, 60_000);

  it('refuses an instance fault that acts on a process of this host', async () => {
    const res = await server.api<{ error: { code: string; message: string } }>('POST', '/api/projects/shop/experiments/pause-one/run', {});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('CHAOS_FAULT_NOT_ON_KUBERNETES');
  });
});
