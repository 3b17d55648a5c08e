/**
 * An SLO on a Kubernetes environment counts the seconds its proxy pods have not rolled up yet, as
 * one on this machine counts its proxy's: a real Gantry server that never stores a roll-up (its
 * recording interval is an hour) deploys through the SCRIPTED Kubernetes API (a fake: no API server
 * runs here) and reads each proxy pod's live window through the API's pod proxy, which a loopback
 * front forwards to two real `gantry proxy --routes FILE` processes (test/support/scripted-cluster.ts).
 * Before, the live seconds came from this machine's idle proxy: the SLO counted nothing until the
 * pods' roll-ups were stored 15–25 s later.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SLO_ON_KUBERNETES, startReleaseBackend, storeReleases } from '../support/kubernetes-releases.ts';
import { type ScriptedCluster, startScriptedCluster } from '../support/scripted-cluster.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

let cluster: ScriptedCluster | undefined;
let server: TestServer | undefined;
let backend: Server | undefined;

function get(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume().on('end', resolve));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  backend = await startReleaseBackend();
  cluster = await startScriptedCluster({
    name: 'k8s-slo-live',
    release1Upstream: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`,
  });
  server = await startTestServer({
    dataDir: join(cluster.dir, 'data'),
    start: { rollupRecordEveryMs: 3_600_000, sloEvaluateEveryMs: 300 },
  });
  const project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(server.store, project.id, [{ sha: '1'.repeat(40), configText: SLO_ON_KUBERNETES(cluster.kubeconfig) }]);
}, 60_000);

afterAll(async () => {
  await server?.cleanup();
  await cluster?.stop();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
});

it('counts the proxy pods’ requests of the last seconds, summed over the pods, before any roll-up is stored', async () => {
  const running = server as TestServer;
  const pods = (cluster as ScriptedCluster).proxies;
  const deployed = await running.api('POST', '/api/projects/shop/environments/production/deploy', { release: '1' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  await waitFor(
    async () =>
      (await running.api<{ rollout: { phase: string } }>('GET', '/api/projects/shop/environments/production/rollout')).body.rollout
        .phase === 'succeeded' || undefined,
    { what: 'release 1 to be deployed' },
  );

  // 20 requests, 4 failing, through the two pods.
  for (const [pod, ok, failing] of [
    [0, 9, 3],
    [1, 7, 1],
  ] as const) {
    for (let i = 0; i < ok; i++) await get((pods[pod] as { port: number }).port, '/');
    for (let i = 0; i < failing; i++) await get((pods[pod] as { port: number }).port, '/fail');
  }
  const counted = await waitFor(
    async () => {
      const res = await running.api<{ slos: { slo: { name: string }; budget: { total: number; bad: number } }[] }>(
        'GET',
        '/api/projects/shop/slos?env=production',
      );
      const budget = res.body.slos?.find((v) => v.slo.name === 'availability')?.budget;
      return budget !== undefined && budget.total >= 20 ? { total: budget.total, bad: budget.bad } : undefined;
    },
    { what: 'the SLO to count the 20 requests of the proxy pods' },
  );
  expect(counted).toEqual({ total: 20, bad: 4 });
  const stored = await running.store.metrics.query({
    projectId: (await running.store.projects.get('shop'))?.id ?? '',
    environment: 'production',
    sinceMs: 0,
    untilMs: Date.now(),
  });
  expect(stored).toEqual([]);
});
