/**
 * Canary analysis on a Kubernetes environment reads the in-cluster proxy's measurements: a real
 * Gantry server deploys through the SCRIPTED Kubernetes API (test/support/scripted-kubernetes-api.ts,
 * a fake: no API server runs here), and reads each proxy pod's `/window` through the API's pod
 * proxy, which a loopback front (test/support/pod-proxy-front.ts) forwards to two real
 * `gantry proxy --routes FILE` processes standing in for the proxy Deployment's two pods. The
 * route file follows the routes ConfigMap the server applies (the kubelet's part), with each
 * release's Service replaced by a real loopback backend; clients load both proxies throughout.
 * A canary whose backend fails is rolled back by the analysis; a healthy one is promoted.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../src/store/ports.ts';
import type { ClusterProxyPod } from '../support/cluster-proxy-pods.ts';
import { shopOnKubernetes, storeReleases } from '../support/kubernetes-releases.ts';
import type { PodProxyFront } from '../support/pod-proxy-front.ts';
import type { ScriptedKubernetesApi } from '../support/scripted-kubernetes-api.ts';
import { type ScriptedCluster, startScriptedCluster } from '../support/scripted-cluster.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG = (kubeconfig: string) =>
  shopOnKubernetes(kubeconfig, {
    instances: 1,
    production: `    strategy:
      canary:
        steps: [{ weight: 50, pause: 2s }]
        analysis:
          error-rate: { max: 5% }
          min-requests: 10
          window: 4s
`,
  });

const ROUTES = '/api/v1/namespaces/shop/configmaps/shop-production-routes';
/** Release 2 fails every request; 1 and 3 answer. */
const FAILING = new Set(['2']);

let cluster: ScriptedCluster | undefined;
let api: ScriptedKubernetesApi;
let front: PodProxyFront;
let server: TestServer;
let project: Project;
const backends = new Map<string, Server>();
let proxies: ClusterProxyPod[] = [];
let routesFile: string;
let syncing: NodeJS.Timeout | undefined;
let loading = true;
let load: Promise<void> | undefined;

const portOf = (release: string): number | undefined => (backends.get(release)?.address() as AddressInfo | undefined)?.port;

function backend(release: string): Promise<Server> {
  const s = createServer((_req, res) => {
    res.writeHead(FAILING.has(release) ? 500 : 200, { 'content-type': 'text/plain' });
    res.end(`release ${release}\n`);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

/** The kubelet's part: the mounted route file follows the applied ConfigMap, Services resolved to the backends. */
function syncRoutes(): void {
  const configMap = api.objects.get(ROUTES);
  if (configMap === undefined) return;
  const text = String(configMap.data['routes.json']).replace(/http:\/\/shop-production-r(\d+)\.shop\.svc:\d+/g, (_m, n: string) => {
    return `http://127.0.0.1:${portOf(n) ?? 1}`;
  });
  writeFileSync(`${routesFile}.next`, text);
  renameSync(`${routesFile}.next`, routesFile);
}

function get(port: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

beforeAll(async () => {
  for (const release of ['1', '2', '3']) backends.set(release, await backend(release));
  // Until the server applies its ConfigMap, release 1 alone.
  cluster = await startScriptedCluster({ name: 'k8s-analysis', release1Upstream: `http://127.0.0.1:${portOf('1')}` });
  ({ api, front, proxies, routesFile } = cluster);
  const { kubeconfig } = cluster;
  syncing = setInterval(syncRoutes, 50);
  load = (async () => {
    while (loading) await Promise.all(proxies.map((p) => get(p.port)));
  })();
  server = await startTestServer();
  project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(
    server.store,
    project.id,
    ['1', '2', '3'].map((digit) => ({ sha: digit.repeat(40), configText: CONFIG(kubeconfig) })),
  );
}, 60_000);

afterAll(async () => {
  loading = false;
  await load;
  clearInterval(syncing);
  await server?.cleanup();
  await cluster?.stop();
  for (const s of backends.values()) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

function routeWeights(): string {
  const configMap = api.objects.get(ROUTES);
  if (configMap === undefined) return '';
  const table = JSON.parse(configMap.data['routes.json']) as { routes: { version: string; weight: number }[] };
  return table.routes.map((r) => `r${r.version}=${r.weight}`).join();
}

interface Rollout {
  phase: string;
  reason?: string | null;
  state: { pausedReason?: string | null };
}

async function rollout(): Promise<Rollout> {
  const res = await server.api<{ rollout: Rollout }>('GET', '/api/projects/shop/environments/production/rollout');
  return res.body.rollout;
}

async function deploy(release: string): Promise<void> {
  const res = await server.api('POST', '/api/projects/shop/environments/production/deploy', { release });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

const why = (r: Rollout) => `${r.phase}: ${r.state.pausedReason ?? r.reason ?? ''}`;

const ended = () =>
  waitFor(
    async () => {
      const r = await rollout();
      // Paused: the analysis had nothing to go on at the step's end (what it read had no requests).
      return ['succeeded', 'rolled-back', 'aborted', 'failed', 'paused'].includes(r.phase) ? r : undefined;
    },
    { what: 'the rollout to end', timeoutMs: 60_000 },
  );

describe('canary analysis on a Kubernetes environment', () => {
  it('reads the in-cluster proxy pods through the API: a failing canary is rolled back, a healthy one promoted', async () => {
    await deploy('1');
    expect((await ended()).phase).toBe('succeeded');

    await deploy('2');
    const failed = await ended();
    expect(failed.phase, why(failed)).toBe('rolled-back');
    expect(routeWeights()).toBe('r1=100');
    // Both proxy pods were read, with the release numbers their route file names.
    const windowReads = front.forwarded.filter((r) => r.includes(' /window?') && r.includes('version=2'));
    expect(new Set(windowReads.map((r) => r.split(' ')[0]))).toEqual(new Set(['shop-production-proxy-0', 'shop-production-proxy-1']));

    await deploy('3');
    const promoted = await ended();
    expect(promoted.phase, why(promoted)).toBe('succeeded');
    expect(routeWeights()).toBe('r3=100');
  }, 120_000);
});
