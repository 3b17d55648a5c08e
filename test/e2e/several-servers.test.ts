/**
 * Three `gantry up` processes on one PostgreSQL (each its own port and data dir, one runtime dir
 * for instances and proxies, the same secret key and admin token): all serve the API, the
 * background loops run on the holder of the lease, an SSE client of one server sees what another
 * did (LISTEN/NOTIFY); an owner paused past its lease (SIGSTOP) while another takes the loops over
 * and finishes its rollout writes nothing when it wakes (every write of the loops is fenced by the
 * lease's token) and steps down; and kill -9 of the next owner in the middle of a canary hands the
 * loops to the last server within 10 s, which finishes the rollout with no failed request through
 * the proxy. One group serves every case, in order (each hands the loops on), because starting the
 * servers and the first deploy is most of a case's cost.
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
import { steadyLoad } from '../support/steady-load.ts';

const yaml = (version: string) => serviceYaml({ version, environments: TIMED_CANARY });

const leaseEvents = async (s: GantryUp) =>
  (await api<{ events: StoredEvent[] }>(s, 'GET', '/api/events?type=server.lease.acquired')).events;

describe.skipIf(!pgAvailable())('several servers on one PostgreSQL', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let group: ServerGroup;
  let a: GantryUp;
  let b: GantryUp;
  let c: GantryUp;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  /** The owner of the loops after A stepped down, and the server left after it. */
  let next: GantryUp;
  let last: GantryUp;
  const view = (s: GantryUp) => api<View>(s, 'GET', '/api/projects/web/environments/production/rollout');

  beforeAll(async () => {
    // A 4 s lease, so that a paused owner loses it soon; the default 5 s is for loaded machines.
    group = await startServerGroup(3, { leaseMs: 4000 });
    [a, b, c] = group.servers as [GantryUp, GantryUp, GantryUp];
    repo = await makeRepo({ 'server.js': SERVICE_JS, 'gantry.yaml': yaml('v1') });
    cleanups.push(() => repo.cleanup());
  }, 60_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await group?.cleanup();
  });

  it('serves one API from all three, with the background loops on the first server only', async () => {
    const leases = await leaseEvents(b);
    expect(leases.map((e) => e.data.url)).toEqual([a.url]);
    await api(a, 'POST', '/api/projects', { path: repo.dir, name: 'web' });
    for (const s of [b, c]) {
      const projects = await api<{ projects: { name: string }[] }>(s, 'GET', '/api/projects');
      expect(projects.projects.map((p) => p.name)).toEqual(['web']);
    }
    // Proxies and instances are steered by the driver of rollouts alone; B says where it is.
    const refused = await b.api<{ error: { code: string; message: string } }>('POST', '/api/projects/web/environments/production/rollback');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('NOT_ROLLOUT_DRIVER');
    expect(refused.body.error.message).toContain(a.url);
  });

  it('streams to a client of B the run that A started (LISTEN/NOTIFY)', async () => {
    const newest = (await api<{ events: StoredEvent[] }>(b, 'GET', '/api/events?order=desc&limit=1')).events[0]!.id;
    const controller = new AbortController();
    const response = await fetch(`${b.url}/api/events/stream?after=${newest}`, {
      headers: { authorization: `Bearer ${b.token}` },
      signal: controller.signal,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += value;
      }
    })().catch(() => undefined);
    try {
      const run = (await api<{ run: { id: string } }>(a, 'POST', '/api/projects/web/runs', {})).run.id;
      await waitFor(() => received.includes('"type":"run.success"') && received.includes(run), {
        what: "B's stream to carry A's run to its end",
        timeoutMs: 30_000,
      });
    } finally {
      controller.abort();
      await reading;
    }
  });

  it("follows on B the log of a job running on A, and reads it and the job's artifacts there afterwards", async () => {
    const printer = await makeRepo({
      'gantry.yaml': [
        'pipeline:',
        '  jobs:',
        '    print:',
        '      steps: ["for i in 1 2 3 4 5 6; do echo line $i; sleep 0.2; done", "mkdir -p dist && echo built > dist/app.txt"]',
        '      artifacts: [dist/**]',
        '',
      ].join('\n'),
    });
    cleanups.push(() => printer.cleanup());
    await api(a, 'POST', '/api/projects', { path: printer.dir, name: 'printer' });
    const run = (await api<{ run: { id: string } }>(a, 'POST', '/api/projects/printer/runs', {})).run.id;
    await waitFor(async () => (await api<{ jobs: { status: string }[] }>(b, 'GET', `/api/runs/${run}`)).jobs[0]?.status === 'running', {
      what: 'the job to run on A',
      timeoutMs: 30_000,
    });
    const response = await fetch(`${b.url}/api/runs/${run}/jobs/print/log?follow=true`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    const followed = await response.text();
    const texts = [...followed.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { text?: string; status?: string });
    expect(texts.filter((t) => t.text?.startsWith('line ')).map((t) => t.text)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `line ${i}`));
    expect(texts.at(-1)?.status).toBe('success');
    const onA = await a.api<string>('GET', `/api/runs/${run}/jobs/print/log`);
    const onB = await b.api<string>('GET', `/api/runs/${run}/jobs/print/log`);
    expect(onB.body).toContain('line 6');
    expect(onB.body).toBe(onA.body);
    const listed = await api<{ files: { path: string }[] }>(b, 'GET', `/api/runs/${run}/jobs/print/artifacts`);
    expect(listed.files.map((f) => f.path)).toEqual(['dist/app.txt']);
    expect((await b.api<string>('GET', `/api/runs/${run}/jobs/print/artifacts/dist/app.txt`)).body.toString().trim()).toBe('built');
  });

  it("writes nothing over the new owner's rollout when a paused owner wakes, and the paused owner steps down", async () => {
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
    next = await waitFor(
      async () => {
        const url = (await leaseEvents(b)).find((e) => e.data.url !== a.url)?.data.url;
        return url === b.url ? b : url === c.url ? c : undefined;
      },
      { what: 'B or C to take the loops over', timeoutMs: 20_000 },
    );
    last = next === b ? c : b;
    await waitFor(
      async () => {
        const v = await view(next);
        return v.rollout?.id === second.rollout.id && v.rollout.phase === 'succeeded';
      },
      { what: 'the new owner to finish the rollout', timeoutMs: 40_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nthe new owner's output:\n${next.output().slice(-4000)}`);
    });
    const subject = `rollout:${second.rollout.id}`;
    const before = (await api<{ events: StoredEvent[] }>(next, 'GET', `/api/events?subject=${subject}`)).events;

    const exitCode = await a.kill('SIGCONT');
    const after = (await api<{ events: StoredEvent[] }>(next, 'GET', `/api/events?subject=${subject}`)).events;
    expect(
      after.map((e) => e.type),
      `A's output:\n${a.output().slice(-4000)}`,
    ).toEqual(before.map((e) => e.type));
    const final = await view(next);
    expect(final.rollout).toMatchObject({ id: second.rollout.id, phase: 'succeeded' });
    expect(final.live.weights.canary).toBe(0);
    // It stepped down: refused, and gone once it saw its lease lost.
    expect(exitCode).toBe(1);
    expect(a.output()).toContain('LEASE_FENCED');
  });

  it('hands the loops to the last server within 10 s of kill -9 of the owner, which finishes the canary with no failed request', async () => {
    await repo.commit({ 'gantry.yaml': yaml('v3') }, 'v3');
    const r3 = await releaseOf(next, 'web');
    const third = await api<{ rollout: { id: string } }>(next, 'POST', '/api/projects/web/environments/production/deploy', { release: r3 });
    const port = await waitFor(
      async () => {
        const v = await view(next);
        return v.live.weights.canary === 20 ? v.live.port : undefined;
      },
      { what: 'the canary at 20 %', timeoutMs: 30_000 },
    );

    const load = steadyLoad(port);

    const killedAt = Date.now();
    await next.kill('SIGKILL');
    const takeover = await waitFor(async () => (await leaseEvents(last)).find((e) => e.data.url === last.url), {
      what: 'the last server to take the lease over',
      timeoutMs: 15_000,
    });
    expect(Date.parse(takeover.at) - killedAt).toBeLessThan(10_000);
    await waitFor(
      async () => {
        const v = await view(last);
        return v.rollout?.id === third.rollout.id && v.rollout.phase === 'succeeded';
      },
      { what: 'the last server to finish the rollout', timeoutMs: 30_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\nthe last server's output:\n${last.output().slice(-4000)}`);
    });
    await load.stop();
    expect(load.requests).toBeGreaterThan(100);
    expect(load.failures, load.failureReasons.join('\n')).toBe(0);
    expect(load.bodies).toEqual(new Set(['v2', 'v3']));
  });
});
