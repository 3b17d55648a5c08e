/**
 * A deploy to a Kubernetes environment end to end: a real Gantry server, `POST deploy` through its
 * API, the same DeliveryController, RolloutDriver and rollout reducer as on one machine, carried out
 * by the KubernetesDeployer against a SCRIPTED Kubernetes API on loopback
 * (test/support/scripted-kubernetes-api.ts), whose Deployments get Ready pods at once. The cluster's
 * credentials are the kubeconfig and context the environment's gantry.yaml names.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Project } from '../../src/store/ports.ts';
import { shopOnKubernetes, storeReleases } from '../support/kubernetes-releases.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { ScriptedKubernetesApi } from '../support/scripted-kubernetes-api.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG = (kubeconfig: string) =>
  shopOnKubernetes(kubeconfig, {
    instances: 2,
    production: `    secrets: { DB_PASSWORD: SHOP_DB_PASSWORD }
    strategy: { canary: { steps: [{ weight: 20, pause: until-promoted }] } }
`,
  });

const ROUTES = '/api/v1/namespaces/shop/configmaps/shop-production-routes';
const SECRET = '/api/v1/namespaces/shop/secrets/shop-production-secrets';
const PASSWORD = 'k8s-e2e-hunter2-value';
/** Everything the server logged, as text (a secret value must never appear in it). */
const logged: string[] = [];

let api: ScriptedKubernetesApi;
let dir: string;
let server: TestServer;
let project: Project;

beforeAll(async () => {
  api = await ScriptedKubernetesApi.start();
  api.podsOnApply = 'ready';
  dir = mkdtempSync(join(tmpdir(), 'gantry-k8s-e2e-'));
  const kubeconfig = api.writeKubeconfig(dir);
  server = await startTestServer({ start: { log: (level, message, data) => logged.push(JSON.stringify({ level, message, data })) } });
  dataDir = server.dataDir;
  project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(
    server.store,
    project.id,
    ['1', '2', '3'].map((digit) => ({ sha: digit.repeat(40), configText: CONFIG(kubeconfig) })),
  );
}, 60_000);
/** The data directory of the first server, kept across the restart and removed at the end. */
let dataDir: string | undefined;

afterAll(async () => {
  await server?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Each release's weight in the route table the in-cluster proxy reads. */
function routeWeights(): string[] {
  const configMap = api.objects.get(ROUTES);
  if (configMap === undefined) return [];
  const table = JSON.parse(configMap.data['routes.json']) as { routes: { version: string; weight: number }[] };
  return table.routes.map((r) => `r${r.version}=${r.weight}`);
}

const writes = () =>
  api.requests
    .filter((r) => r.method === 'PATCH' || r.method === 'DELETE')
    .map((r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`);
const deployments = () =>
  [...api.objects.keys()]
    .filter((p) => p.includes('/deployments/'))
    .map((p) => p.split('/').at(-1))
    .sort();

async function rollout(): Promise<{ phase: string; releaseId: string }> {
  const res = await server.api<{ rollout: { phase: string; releaseId: string } }>(
    'GET',
    '/api/projects/shop/environments/production/rollout',
  );
  return res.body.rollout;
}

async function deploy(release: string): Promise<void> {
  const res = await server.api('POST', '/api/projects/shop/environments/production/deploy', { release });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

const phase = (wanted: string) => waitFor(async () => (await rollout()).phase === wanted, { what: `the rollout to be ${wanted}` });

describe('deploying to a Kubernetes environment through the server', () => {
  it('applies the first release, runs a canary to promotion, and rolls an aborted canary back', async () => {
    const secretSet = await server.api('PUT', '/api/projects/shop/secrets/SHOP_DB_PASSWORD?env=production', { value: PASSWORD });
    expect(secretSet.status).toBe(200);
    // The first release: the environment's Secret, its pods, its Service, the stable Service and the proxy, by server-side apply.
    await deploy('1');
    await phase('succeeded');
    expect(routeWeights()).toEqual(['r1=100']);
    const firstApply = api.requests.filter((r) => r.method === 'PATCH');
    expect(firstApply.slice(0, 6).map((r) => [r.path, r.query, r.contentType])).toEqual(
      [
        SECRET,
        '/apis/apps/v1/namespaces/shop/deployments/shop-production-r1',
        '/api/v1/namespaces/shop/services/shop-production-r1',
        '/api/v1/namespaces/shop/services/shop-production',
        ROUTES,
        '/apis/apps/v1/namespaces/shop/deployments/shop-production-proxy',
      ].map((path) => [path, { fieldManager: 'gantry', force: 'false' }, 'application/apply-patch+yaml']),
    );
    expect(firstApply[0]?.authorization).toBe('Bearer scripted-token');
    // The pods' secretKeyRef finds the value; the server never logs it.
    expect(api.objects.get(SECRET)?.data).toEqual({ SHOP_DB_PASSWORD: Buffer.from(PASSWORD).toString('base64') });
    const pod = api.objects.get('/apis/apps/v1/namespaces/shop/deployments/shop-production-r1')?.spec.template.spec.containers[0];
    expect(pod.env).toContainEqual({
      name: 'DB_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'shop-production-secrets', key: 'SHOP_DB_PASSWORD' } },
    });
    expect(deployments()).toEqual(['shop-production-proxy', 'shop-production-r1']);
    const environment = await server.api<{ environment: { currentReleaseId: string } }>(
      'GET',
      '/api/projects/shop/environments/production/rollout',
    );
    // The finished rollout's release (release 1) is what the environment runs now.
    expect(environment.body.environment.currentReleaseId).toBe((await rollout()).releaseId);

    // A canary: release 2's pods become Ready, so the rollout takes 20% and waits to be promoted.
    await deploy('2');
    await waitFor(() => routeWeights().join() === 'r1=80,r2=20', { what: 'the canary at 20%' });
    expect((await rollout()).phase).toBe('progressing');
    expect(deployments()).toEqual(['shop-production-proxy', 'shop-production-r1', 'shop-production-r2']);

    // Promoted: release 2 takes all traffic, release 1 leaves the route table before its objects go.
    api.requests.length = 0;
    expect((await server.api('POST', '/api/projects/shop/environments/production/rollout/promote')).status).toBe(200);
    await phase('succeeded');
    await waitFor(() => deployments().join() === 'shop-production-proxy,shop-production-r2', { what: 'release 1 to be deleted' });
    expect(routeWeights()).toEqual(['r2=100']);
    expect(writes().slice(-4)).toEqual([
      'PATCH configmaps/shop-production-routes',
      'PATCH deployments/shop-production-proxy',
      'DELETE services/shop-production-r1',
      'DELETE deployments/shop-production-r1',
    ]);

    // Aborted: the route goes back to release 2 alone and release 3's Deployment is deleted.
    await deploy('3');
    await waitFor(() => routeWeights().join() === 'r2=80,r3=20', { what: 'the second canary at 20%' });
    expect((await server.api('POST', '/api/projects/shop/environments/production/rollout/abort')).status).toBe(200);
    await phase('aborted');
    await waitFor(() => deployments().join() === 'shop-production-proxy,shop-production-r2', { what: 'the canary to be deleted' });
    expect(routeWeights()).toEqual(['r2=100']);
    // The service's pods (the proxy's carry no release).
    expect(api.pods.filter((p) => p.release !== '').map((p) => p.release)).toEqual(['2', '2']);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(PASSWORD);
    expect(logged.join('\n')).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  }, 90_000);

  it('a canary survives a server restart: promoted after it, the new release takes all traffic and keeps its pods', async () => {
    await deploy('3');
    await waitFor(() => routeWeights().join() === 'r2=80,r3=20', { what: 'the canary at 20%' });
    await server.close();
    server = await startTestServer({ dataDir: dataDir as string });
    await waitFor(async () => (await rollout()).phase === 'progressing', { what: 'the rollout resumed' });
    api.requests.length = 0;
    expect((await server.api('POST', '/api/projects/shop/environments/production/rollout/promote')).status).toBe(200);
    await phase('succeeded');
    await waitFor(() => deployments().join() === 'shop-production-proxy,shop-production-r3', { what: 'release 2 to be deleted' });
    expect(routeWeights()).toEqual(['r3=100']);
    expect(writes()).not.toContain('DELETE deployments/shop-production-r3');
  }, 90_000);
});
