/**
 * The notification outbox across kill -9: a real `gantry up` queues ten signed webhook
 * notifications for a receiver that answers 503, is killed with SIGKILL, starts again on the
 * same data directory and keeps retrying; once the receiver is back every notification arrives
 * exactly once, under the idempotency key it was queued with, with a valid signature.
 * GANTRY_NOTIFY_RETRY_MS=100 makes the retries come within a second instead of minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/server/notifications/index.ts';
import { makeRepo } from '../support/repo.ts';
import { type GantryUp, startGantryUp } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const QUEUED = 10;

async function api<T>(s: GantryUp, method: string, path: string, body?: unknown): Promise<T> {
  return (await s.api<T>(method, path, body)).body;
}

/** Answers 503 until `up`, then 200, recording what it accepted. */
function receiver() {
  const state = { up: false, refused: 0, accepted: [] as { key: string; signature: string; body: string }[] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      if (!state.up) {
        state.refused += 1;
        res.statusCode = 503;
      } else {
        state.accepted.push({ key: String(req.headers['idempotency-key']), signature: String(req.headers['x-gantry-signature']), body });
      }
      res.end();
    });
  });
  return { state, server };
}

describe('notifications across kill -9', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('delivers every queued notification once, with its key and a valid signature, after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gantry-notify-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const repo = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    build: { steps: ["true"] }\n' });
    cleanups.push(() => repo.cleanup());
    const hook = receiver();
    await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          hook.server.closeAllConnections();
          hook.server.close(resolve);
        }),
    );
    const server = await startGantryUp({ dataDir, env: { GANTRY_SANDBOX: 'off', GANTRY_DRAIN_MS: '0', GANTRY_NOTIFY_RETRY_MS: '100' } });
    cleanups.push(() => server.stop());

    await api(server, 'POST', '/api/projects', { path: repo.dir, name: 'shop' });
    const { secret } = await api<{ secret: string }>(server, 'POST', '/api/notify/channels', {
      name: 'oncall',
      kind: 'webhook',
      url: `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`,
      events: ['incident.opened'],
    });
    for (let i = 1; i <= QUEUED; i++) await api(server, 'POST', '/api/projects/shop/incidents', { title: `incident ${i}` });
    type Row = { idempotencyKey: string; status: string; attempts: number };
    const queued = await waitFor(
      async () => {
        const { deliveries } = await api<{ deliveries: Row[] }>(server, 'GET', '/api/notify/deliveries');
        return deliveries.length === QUEUED && deliveries.every((d) => d.status === 'pending' && d.attempts >= 1) ? deliveries : undefined;
      },
      { what: `${QUEUED} deliveries queued and refused once` },
    );

    await server.kill('SIGKILL');
    const refusedBeforeRestart = hook.state.refused;
    await server.startServer();
    // The restarted server retries from the store alone: more refusals prove it before the receiver returns.
    await waitFor(() => hook.state.refused >= refusedBeforeRestart + QUEUED, { what: 'retries after the restart' });
    hook.state.up = true;

    await waitFor(
      async () => {
        const { deliveries } = await api<{ deliveries: Row[] }>(server, 'GET', '/api/notify/deliveries?status=delivered');
        return deliveries.length === QUEUED;
      },
      { what: 'every delivery recorded as delivered' },
    );
    const keys = hook.state.accepted.map((a) => a.key);
    expect(keys.toSorted()).toEqual(queued.map((d) => d.idempotencyKey).toSorted());
    for (const accepted of hook.state.accepted) {
      expect(verifyWebhook(secret, accepted.signature, accepted.body, Date.now() / 1000)).toBe(true);
      expect(JSON.parse(accepted.body)).toMatchObject({ id: accepted.key, event: { type: 'incident.opened', project: 'shop' } });
    }
  }, 180_000);
});
