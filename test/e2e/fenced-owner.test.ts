/**
 * An owner of the background loops paused past its lease (SIGSTOP) while another server took the
 * loops over and finished its rollout: woken up (SIGCONT), its pending rollout tick must not land
 * — every write of the loops is fenced by the lease's token in its own transaction — and it steps
 * down (exits 1). Two real `gantry up` on one PostgreSQL, as in several-servers.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_JS, serviceYaml, TIMED_CANARY } from './fixtures/service-config.ts';
import { pgAvailable } from '../support/databases.ts';
import { makeRepo } from '../support/repo.ts';
import type { GantryUp } from '../support/server.ts';
import {
  apiOk as api,
  releaseOf,
  type RolloutView as View,
  type ServerGroup,
  type StoredEvent,
  startServerGroup,
} from '../support/server-group.ts';
import { waitFor } from '../support/wait.ts';

const yaml = (version: string) => serviceYaml({ version, environments: TIMED_CANARY });

describe.skipIf(!pgAvailable())('an owner paused past its lease', () => {
  let group: ServerGroup;
  let a: GantryUp;
  let b: GantryUp;
  let repo: Awaited<ReturnType<typeof makeRepo>>;

  beforeAll(async () => {
    group = await startServerGroup(2, { leaseMs: 4000 });
    [a, b] = group.servers as [GantryUp, GantryUp];
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
  }, 60_000);
  afterAll(async () => {
    await group?.cleanup();
    await repo?.cleanup();
  });

  it("writes nothing over the new owner's rollout when it wakes, and steps down", async () => {
    await api(a, 'POST', '/api/projects', { path: repo.dir, name: 'web' });
    const view = (s: GantryUp) => api<View>(s, 'GET', '/api/projects/web/environments/production/rollout');
    const first = await api<{ rollout: { id: string } }>(a, 'POST', '/api/projects/web/environments/production/deploy', {
      release: await releaseOf(a, 'web'),
    });
    await waitFor(async () => (await view(a)).rollout?.id === first.rollout.id && (await view(a)).rollout?.phase === 'succeeded', {
      what: 'the first deploy',
      timeoutMs: 30_000,
    });
    await repo.commit({ 'gantry.yaml': yaml('v2') }, 'v2');
    const r2 = await releaseOf(a, 'web');
    const second = await api<{ rollout: { id: string } }>(a, 'POST', '/api/projects/web/environments/production/deploy', { release: r2 });
    await waitFor(async () => (await view(a)).live.weights.canary === 20, { what: 'the canary at 20 %', timeoutMs: 30_000 });

    // A pauses with the canary's pause running: its tick is due while it sleeps.
    void a.kill('SIGSTOP');
    await waitFor(
      async () => {
        const v = await view(b);
        return v.rollout?.id === second.rollout.id && v.rollout.phase === 'succeeded';
      },
      { what: 'B to take over and finish the rollout', timeoutMs: 40_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nB's output:\n${b.output().slice(-4000)}`);
    });
    const subject = `rollout:${second.rollout.id}`;
    const before = (await api<{ events: StoredEvent[] }>(b, 'GET', `/api/events?subject=${subject}`)).events;

    const exitCode = await a.kill('SIGCONT');
    const after = (await api<{ events: StoredEvent[] }>(b, 'GET', `/api/events?subject=${subject}`)).events;
    expect(
      after.map((e) => e.type),
      `A's output:\n${a.output().slice(-4000)}`,
    ).toEqual(before.map((e) => e.type));
    const final = await view(b);
    expect(final.rollout).toMatchObject({ id: second.rollout.id, phase: 'succeeded' });
    expect(final.live.weights.canary).toBe(0);
    // It stepped down: refused, and gone once it saw its lease lost.
    expect(exitCode).toBe(1);
    expect(a.output()).toContain('LEASE_FENCED');
  });
});
