/**
 * Delivery, the controlled parts: approvals, environment secrets, a killed instance, bad requests.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { makeRepo } from '../support/repo.ts';
import { steadyLoad } from '../support/steady-load.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');
const PASSWORD = 'pr0d-db-pa55word';

const YAML = `
pipeline:
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  env: { VERSION: v1 }
  instances: 2
  health: { path: /healthz, readiness: { interval: 100ms }, liveness: { interval: 200ms } }
  stop: { drain-timeout: 2s }
environments:
  production:
    approval: required
    secrets: { DB_PASSWORD: DB_PASSWORD }
    strategy: { blue-green: { keep-old: 0s } }
`;

interface RolloutView {
  rollout: { id: string; phase: string } | null;
  live: { port: number | null; instances: { id: string; state: string; restarts: number; port: number }[] };
}

describe('delivery control', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let releaseId: string;

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': YAML });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'ctl' });
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/ctl/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    const made = await server.api<{ release: { id: string; number: number } }>('POST', '/api/projects/ctl/releases', { run });
    expect(made.status).toBe(201);
    releaseId = made.body.release.id;
  });
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  const view = async () => (await server.api<RolloutView>('GET', '/api/projects/ctl/environments/production/rollout')).body;

  it('refuses deploys it cannot do, with a clear reason', async () => {
    const unknownEnv = await server.api<{ error: { code: string; message: string } }>('POST', '/api/projects/ctl/environments/qa/deploy', {
      release: releaseId,
    });
    expect(unknownEnv.status).toBe(400);
    expect(unknownEnv.body.error.message).toMatch(/defines no environment 'qa' \(it has: production\)/);
    const unknownRelease = await server.api<{ error: { code: string } }>('POST', '/api/projects/ctl/environments/production/deploy', {
      release: '99',
    });
    expect(unknownRelease.status).toBe(404);
    const noRollout = await server.api<{ error: { code: string } }>('POST', '/api/projects/ctl/environments/production/rollout/promote');
    expect(noRollout.status).toBe(404);
  });

  it('waits for approval, and fails the start while a needed secret is missing', async () => {
    const deployed = await server.api<{ rollout: { id: string; phase: string } }>(
      'POST',
      '/api/projects/ctl/environments/production/deploy',
      { release: releaseId },
    );
    expect(deployed.status).toBe(201);
    expect(deployed.body.rollout.phase).toBe('pending-approval');
    expect((await server.api('POST', '/api/projects/ctl/environments/production/deploy', { release: releaseId })).status).toBe(409);
    await server.api('POST', '/api/projects/ctl/environments/production/rollout/approve');
    const failed = await waitFor(
      async () => {
        const v = await view();
        return v.rollout && ['failed', 'rolled-back', 'aborted'].includes(v.rollout.phase) ? v : undefined;
      },
      { what: 'the rollout to fail', timeoutMs: 20_000 },
    );
    expect(failed.rollout?.phase).toBe('failed');
    const events = await server.api<{ events: { type: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/api/events?subject=rollout:${deployed.body.rollout.id}`,
    );
    expect(JSON.stringify(events.body.events)).toMatch(/secret DB_PASSWORD/);
  });

  it("gives instances the environment's secret, masks it in their logs, and restarts a killed instance without a failed request", async () => {
    expect((await server.api('PUT', '/api/projects/ctl/secrets/DB_PASSWORD?env=production', { value: PASSWORD })).status).toBe(200);
    const deployed = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/ctl/environments/production/deploy', {
      release: releaseId,
    });
    await server.api('POST', '/api/projects/ctl/environments/production/rollout/approve');
    const live = await waitFor(
      async () => {
        const v = await view();
        return v.rollout?.id === deployed.body.rollout.id && v.rollout.phase === 'succeeded' ? v : undefined;
      },
      { what: 'the rollout to succeed', timeoutMs: 30_000 },
    );
    const port = live.live.port!;
    const hash = (await (await fetch(`http://127.0.0.1:${port}/secret-hash`)).text()).trim();
    expect(hash).toBe(createHash('sha256').update(PASSWORD).digest('hex'));
    // Service logs live per environment, release and instance (docs/decisions/0025-service-logs.md).
    const logOf = (id: string) => {
      const root = join(server.dataDir, 'service-logs');
      const file = readdirSync(root, { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith(`/${id}/instance.log`));
      return file ? readFileSync(join(root, file), 'utf8') : '';
    };
    await waitFor(() => live.live.instances.every((i) => logOf(i.id).includes('connecting with password')), {
      what: "the instances' start-up lines",
      timeoutMs: 10_000,
    });
    for (const i of live.live.instances) {
      const log = logOf(i.id);
      expect(log).toContain('connecting with password ***');
      expect(log).not.toContain(PASSWORD);
    }

    // kill -9 one instance while requests flow: the other serves, the proxy retries refused GETs, the supervisor restarts it.
    const victim = live.live.instances[0]!;
    const pid = Number((await (await fetch(`http://127.0.0.1:${victim.port}/pid`)).text()).trim());
    const load = steadyLoad(port);
    await waitFor(() => load.requests > 50, { what: 'load to start', timeoutMs: 10_000 });
    process.kill(pid, 'SIGKILL');
    const restarted = await waitFor(
      async () => {
        const v = await view();
        const again = v.live.instances.find((i) => i.id === victim.id);
        return again && again.restarts > 0 && again.state === 'ready' ? again : undefined;
      },
      { what: 'the killed instance to be restarted', timeoutMs: 20_000 },
    );
    expect(restarted.restarts).toBeGreaterThan(0);
    await load.stop();
    expect(load.requests).toBeGreaterThan(100);
    expect(load.failures, load.failureReasons.join('\n')).toBe(0);

    // What the proxy measured, live and in Prometheus format.
    const metrics = await server.api<{ live: { stable: { requests: number; errors: number; p99: number } } }>(
      'GET',
      '/api/projects/ctl/environments/production/metrics?seconds=60',
    );
    expect(metrics.body.live.stable.requests).toBeGreaterThanOrEqual(load.requests);
    expect(metrics.body.live.stable.errors).toBe(0);
    const text = (await server.api<string>('GET', '/metrics')).body;
    expect(text).toMatch(/gantry_proxy_requests_total\{project="ctl",environment="production",[^}]*status_class="2xx"[^}]*\} \d+/);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  });
});
