/**
 * The in-cluster proxy's fault endpoint (`gantry proxy --routes FILE` as a real process, its
 * metrics port on loopback, where the server reaches it through the API's pod proxy): faults set
 * with a deadline take requests until then and end by the proxy's own timer, with no server to
 * clear them; bad bodies are refused with a code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterProxyPod, startClusterProxyPod, stopClusterProxyPods } from '../support/cluster-proxy-pods.ts';
import { waitFor } from '../support/wait.ts';
import { backend, call, type Backend } from './helpers.ts';

let dir: string;
let service: Backend;
let pod: ClusterProxyPod;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-cluster-faults-'));
  service = await backend('r1');
  const routesFile = join(dir, 'routes.json');
  writeFileSync(
    routesFile,
    JSON.stringify({ routes: [{ version: '1', weight: 100, upstream: `http://127.0.0.1:${service.port}` }], match: [] }),
  );
  pod = await startClusterProxyPod(dir, routesFile);
}, 30_000);

afterAll(async () => {
  if (pod) await stopClusterProxyPods([pod]);
  await service?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the cluster proxy’s faults', () => {
  it('takes requests until the deadline, then ends them by itself', async () => {
    const deadlineAt = Date.now() + 1500;
    const faults = [{ kind: 'abort', status: 503, percent: 100, match: {} }];
    const set = await call(pod.metricsPort, {
      method: 'PUT',
      path: '/faults',
      body: JSON.stringify({ experimentId: 'e1', faults, deadlineAt }),
    });
    expect(set.status).toBe(204);
    expect((await call(pod.port)).status).toBe(503);
    await waitFor(async () => (await call(pod.port)).status === 200 || undefined, {
      what: 'the deadline to end the faults',
      timeoutMs: 10_000,
    });
    const report = JSON.parse((await call(pod.metricsPort, { path: '/faults' })).body) as {
      experimentId: string;
      endedBy: string;
      affected: number;
    };
    expect(report).toMatchObject({ experimentId: 'e1', endedBy: 'deadline' });
    expect(report.affected).toBeGreaterThan(0);
  });

  it('clears them on DELETE and refuses a body that is not a fault set', async () => {
    const faults = [{ kind: 'abort', status: 500, percent: 100, match: {} }];
    const body = JSON.stringify({ experimentId: 'e2', faults, deadlineAt: Date.now() + 60_000 });
    expect((await call(pod.metricsPort, { method: 'PUT', path: '/faults', body })).status).toBe(204);
    expect((await call(pod.port)).status).toBe(500);
    const cleared = await call(pod.metricsPort, { method: 'DELETE', path: '/faults?experiment=e2' });
    expect(JSON.parse(cleared.body)).toMatchObject({ experimentId: 'e2', endedBy: 'cleared', affected: 1 });
    expect((await call(pod.port)).status).toBe(200);
    const bad = await call(pod.metricsPort, { method: 'PUT', path: '/faults', body: '{"faults":' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
  });
});
