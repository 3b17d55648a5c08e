/**
 * The cluster adapter (@kubernetes/client-node) against a SCRIPTED Kubernetes API on loopback
 * (test/support/scripted-kubernetes-api.ts): the exact requests it makes, and how it reads the answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderManifests } from '../../../src/kubernetes/index.ts';
import { parseConfig } from '../../../src/pipeline/load-config.ts';
import { ClientNodeCluster } from '../../../src/server/kubernetes/client-node-cluster.ts';
import { applyConflict, ScriptedKubernetesApi } from '../../support/scripted-kubernetes-api.ts';
import { waitFor } from '../../support/wait.ts';

const config = parseConfig(
  [
    'pipeline: { jobs: { build: { steps: [make] } } }',
    'service: { run: node server.js }',
    'environments:',
    '  production:',
    '    target: { kubernetes: { namespace: shop, image: "registry.test/shop:{release}", traffic: gateway, gateway: { name: public } } }',
  ].join('\n'),
  'gantry.yaml',
);
const objects = renderManifests({
  project: 'shop',
  environment: 'production',
  service: config.service!,
  envConfig: config.environments!.production!,
  versions: [{ release: { number: 3, sha: 'c'.repeat(40) }, weight: 100, replicas: 2 }],
});

let api: ScriptedKubernetesApi;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  api = await ScriptedKubernetesApi.start();
  dir = mkdtempSync(join(tmpdir(), 'gantry-k8s-'));
  kubeconfig = api.writeKubeconfig(dir);
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  api.requests.length = 0;
  api.patchAnswers.length = 0;
  api.pods = [];
  api.silent = false;
});

const writes = () => api.requests.filter((r) => r.method !== 'GET');

describe('server-side apply through @kubernetes/client-node (scripted API)', () => {
  it('PATCHes each object in order as application/apply-patch+yaml with fieldManager=gantry, without force', async () => {
    const cluster = new ClientNodeCluster({ kubeconfig, context: 'scripted' });
    const outcomes = await cluster.apply(objects);
    expect(outcomes.every((o) => !o.forced)).toBe(true);
    expect(writes().map((r) => [r.method, r.path, r.query, r.contentType])).toEqual([
      [
        'PATCH',
        '/apis/apps/v1/namespaces/shop/deployments/shop-production-r3',
        { fieldManager: 'gantry', force: 'false' },
        'application/apply-patch+yaml',
      ],
      [
        'PATCH',
        '/api/v1/namespaces/shop/services/shop-production-r3',
        { fieldManager: 'gantry', force: 'false' },
        'application/apply-patch+yaml',
      ],
      [
        'PATCH',
        '/api/v1/namespaces/shop/services/shop-production',
        { fieldManager: 'gantry', force: 'false' },
        'application/apply-patch+yaml',
      ],
      [
        'PATCH',
        '/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/shop-production',
        { fieldManager: 'gantry', force: 'false' },
        'application/apply-patch+yaml',
      ],
    ]);
    // The body is the whole rendered object (YAML is a superset of JSON), and the token from the kubeconfig is sent.
    expect(writes().map((r) => JSON.parse(r.body))).toEqual(objects);
    expect(new Set(writes().map((r) => r.authorization))).toEqual(new Set(['Bearer scripted-token']));
  });

  it('takes over fields another manager holds (409) by applying again with force, and says whose they were', async () => {
    api.patchAnswers.push(applyConflict('kubectl-edit', '.spec.replicas'));
    const outcomes = await new ClientNodeCluster({ kubeconfig, context: 'scripted' }).apply(objects.slice(0, 1));
    expect(outcomes).toEqual([{ object: 'Deployment/shop-production-r3', forced: true, conflicts: ['kubectl-edit'] }]);
    expect(writes().map((r) => [r.method, r.path, r.query.force])).toEqual([
      ['PATCH', '/apis/apps/v1/namespaces/shop/deployments/shop-production-r3', 'false'],
      ['PATCH', '/apis/apps/v1/namespaces/shop/deployments/shop-production-r3', 'true'],
    ]);
  });

  it('stops at an object the API refuses, with its message and a stable code', async () => {
    api.patchAnswers.push({
      status: 403,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: 'deployments.apps is forbidden: User "gantry" cannot patch',
      },
    });
    const error = await new ClientNodeCluster({ kubeconfig, context: 'scripted' }).apply(objects).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'KUBERNETES_API_ERROR',
      message: expect.stringMatching(/applying Deployment\/shop-production-r3: .*forbidden.*\(HTTP 403\)/),
    });
    expect(writes()).toHaveLength(1);
  });

  it('refuses a context the kubeconfig does not have', async () => {
    const error = await new ClientNodeCluster({ kubeconfig, context: 'prod' }).apply(objects).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KUBERNETES_CONFIG', message: "no context 'prod' in the kubeconfig (it has: scripted, other)" });
  });
});

describe('pod readiness (scripted API)', () => {
  const selector = 'app.kubernetes.io/name=shop-production,gantry.dev/release=3';

  it('lists the pods of a selector with their Ready condition', async () => {
    api.pods = [
      { name: 'a', release: '3', ready: true },
      { name: 'b', release: '3', ready: false },
    ];
    const pods = await new ClientNodeCluster({ kubeconfig, context: 'scripted' }).pods('shop', selector);
    expect(pods).toEqual([
      { name: 'a', release: '3', ready: true },
      { name: 'b', release: '3', ready: false },
    ]);
    expect(api.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/v1/namespaces/shop/pods', query: { labelSelector: selector } });
  });

  it('waits for enough ready pods: a list, then a watch from its resourceVersion', async () => {
    api.pods = [{ name: 'a', release: '3', ready: true }];
    const cluster = new ClientNodeCluster({ kubeconfig, context: 'scripted' });
    let done = false;
    const waiting = cluster.waitReady('shop', selector, 2, 20_000).then(() => {
      done = true;
    });
    await waitFor(() => api.openWatches === 1, { what: 'the adapter to watch pods' });
    const watch = api.requests.find((r) => r.query.watch === 'true');
    expect(watch).toMatchObject({
      path: '/api/v1/namespaces/shop/pods',
      query: { labelSelector: selector, resourceVersion: '100', allowWatchBookmarks: 'true' },
    });
    api.setPod({ name: 'b', release: '3', ready: false });
    api.setPod({ name: 'c', release: '3', ready: false });
    api.setPod({ name: 'b', release: '3', ready: true });
    await waiting;
    expect(done).toBe(true);
    await waitFor(() => api.openWatches === 0, { what: 'the watch to be closed' });
  });

  it('gives up at the deadline with KUBERNETES_NOT_READY', async () => {
    api.pods = [{ name: 'a', release: '3', ready: false }];
    const error = await new ClientNodeCluster({ kubeconfig, context: 'scripted' })
      .waitReady('shop', selector, 1, 300)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KUBERNETES_NOT_READY' });
  });
});

describe('reading a pod port through the API server (scripted API)', () => {
  it('asks the pod proxy path with its query and the bearer token, and names a refusal', async () => {
    const cluster = new ClientNodeCluster({ kubeconfig, context: 'scripted' });
    const read = cluster.proxyGet('shop', 'shop-production-proxy-0', 9090, 'window?since=1&until=2&version=3');
    // The scripted API has no pods to proxy to: it refuses, as an API server does for an unknown pod.
    await expect(read).rejects.toMatchObject({
      code: 'KUBERNETES_API_ERROR',
      message: expect.stringMatching(/reading window from pod shop-production-proxy-0 in shop: .*\(HTTP 404\)/),
    });
    expect(api.requests.map((r) => [r.method, r.path, r.query, r.authorization])).toEqual([
      [
        'GET',
        '/api/v1/namespaces/shop/pods/shop-production-proxy-0:9090/proxy/window',
        { since: '1', until: '2', version: '3' },
        'Bearer scripted-token',
      ],
    ]);
  });
});

describe('chaos through the API server (scripted API)', () => {
  it('puts a JSON body through the pod proxy, and deletes a pod with grace period 0 (a missing one is no error)', async () => {
    const cluster = new ClientNodeCluster({ kubeconfig, context: 'scripted' });
    const set = cluster.proxyCall('shop', 'shop-production-proxy-1', 9090, 'PUT', 'faults', {
      experimentId: 'x',
      faults: [],
      deadlineAt: 1,
    });
    await expect(set).rejects.toMatchObject({
      code: 'KUBERNETES_API_ERROR',
      message: expect.stringMatching(/setting faults on pod shop-production-proxy-1 in shop: .*\(HTTP 404\)/),
    });
    await cluster.deletePod('shop', 'shop-production-r1-0');
    expect(
      api.requests.map((r) => [r.method, r.path, r.query.gracePeriodSeconds, r.contentType, r.body === '' ? '' : JSON.parse(r.body)]),
    ).toEqual([
      [
        'PUT',
        '/api/v1/namespaces/shop/pods/shop-production-proxy-1:9090/proxy/faults',
        undefined,
        'application/json',
        { experimentId: 'x', faults: [], deadlineAt: 1 },
      ],
      ['DELETE', '/api/v1/namespaces/shop/pods/shop-production-r1-0', '0', expect.anything(), expect.anything()],
    ]);
  });
});

describe('an API server that does not answer', () => {
  it('fails each call at its deadline with a clear error instead of waiting for ever', async () => {
    api.silent = true;
    const cluster = new ClientNodeCluster({ kubeconfig, context: 'scripted' }, { apiTimeoutMs: 300 });
    const late = (what: string) => ({
      code: 'KUBERNETES_API_ERROR',
      message: `${what}: the API server did not answer within 0.3 s (is it reachable and healthy?)`,
    });
    await expect(cluster.pods('shop', 'app=shop')).rejects.toMatchObject(late('listing pods in shop'));
    await expect(cluster.apply(objects.slice(0, 1))).rejects.toMatchObject(late('applying Deployment/shop-production-r3'));
    await expect(cluster.deletePod('shop', 'shop-1')).rejects.toMatchObject(late('deleting pod shop-1'));
    // The list, apply's resource discovery (the call that hung, before its PATCH), the delete.
    expect(api.requests.map((r) => [r.method, r.path])).toEqual([
      ['GET', '/api/v1/namespaces/shop/pods'],
      ['GET', '/apis/apps/v1'],
      ['DELETE', '/api/v1/namespaces/shop/pods/shop-1'],
    ]);
  });
});
