/**
 * A Kubernetes deploy whose server restarts while it waits for Ready pods: the restarted server
 * waits again, and the rollout finishes once the pods become Ready. Against a SCRIPTED Kubernetes
 * API on loopback (test/support/scripted-kubernetes-api.ts) whose pods start unready.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shopOnKubernetes, storeReleases } from '../support/kubernetes-releases.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { ScriptedKubernetesApi } from '../support/scripted-kubernetes-api.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG = (kubeconfig: string) =>
  shopOnKubernetes(kubeconfig, {
    instances: 2,
  });

let api: ScriptedKubernetesApi;
let dir: string;
let dataDir: string | undefined;
let server: TestServer;
const logged: string[] = [];

beforeAll(async () => {
  api = await ScriptedKubernetesApi.start();
  api.podsOnApply = 'unready';
  dir = mkdtempSync(join(tmpdir(), 'gantry-k8s-resume-'));
  const kubeconfig = api.writeKubeconfig(dir);
  server = await startTestServer();
  dataDir = server.dataDir;
  const project = await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
  await storeReleases(server.store, project.id, [{ sha: '1'.repeat(40), configText: CONFIG(kubeconfig) }]);
}, 60_000);

afterAll(async () => {
  await server?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rollout = async () =>
  (await server.api<{ rollout: { phase: string } }>('GET', '/api/projects/shop/environments/production/rollout')).body.rollout;

it('waits again for Ready pods after a server restart, and finishes once they are Ready', async () => {
  const deployed = await server.api('POST', '/api/projects/shop/environments/production/deploy', { release: '1' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  await waitFor(() => api.pods.filter((p) => p.release === '1').length === 2, { what: "release 1's pods, unready" });
  expect((await rollout()).phase).not.toBe('succeeded');

  await server.close();
  api.requests.length = 0;
  server = await startTestServer({
    dataDir: dataDir as string,
    start: { log: (level, message, data) => logged.push(`${level} ${message} ${JSON.stringify(data)}`) },
  });
  // The pods become Ready only once the restarted server watches them (the scripted API does not
  // replay events from a resource version): that server's wait must be the one that hears it.
  await waitFor(() => api.requests.some((r) => r.query.watch === 'true'), { what: 'the restarted server to watch the pods' });
  for (const pod of api.pods.filter((p) => p.release === '1')) api.setPod({ ...pod, ready: true });
  await waitFor(async () => (await rollout()).phase === 'succeeded', {
    what: 'the rollout to finish after the restart',
    timeoutMs: 20_000,
  }).catch(async (e: Error) => {
    throw new Error(`${e.message} ${JSON.stringify(await rollout())} ${logged.filter((l) => l.startsWith('warn')).join('\n')}`);
  });
}, 90_000);
