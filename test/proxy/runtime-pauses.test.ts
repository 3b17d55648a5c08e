/**
 * The proxy process's own pauses (GC, event loop) and upstream connection churn, as `GET /runtime`
 * reports them: in process for the recorder, and through a real proxy process and backend for the
 * control route.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyClient, processStartTime } from '../../src/proxy/index.ts';
import { RuntimePauses } from '../../src/proxy/runtime-pauses.ts';
import { waitFor } from '../support/wait.ts';
import { backend, call } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('RuntimePauses', () => {
  it('counts collections and a blocked event loop from the first read on, and starts afresh on a resetting read', async () => {
    const pauses = new RuntimePauses();
    cleanups.push(() => pauses.close());
    expect(pauses.read(true).gc.count).toBe(0);

    // Short-lived garbage (~60 MB: more than a young generation holds, so it scavenges) and the loop
    // held for 200 ms; both again on each look until seen, since a worker that ran other files
    // before may start with room left in its young generation.
    let keep = 0;
    const churn = () => {
      for (let i = 0; i < 1_000_000; i++) keep += { i, s: `x${i}` }.s.length;
      const until = performance.now() + 200;
      while (performance.now() < until) {
        // the loop is blocked on purpose
      }
    };
    churn();
    const seen = await waitFor(
      () => {
        const r = pauses.read(false);
        if (r.gc.count > 0 && r.eventLoop.delayMaxMs >= 100) return r;
        churn();
        return null;
      },
      { what: 'the collections and the blocked loop to be reported' },
    );
    expect(keep).toBeGreaterThan(0);
    expect(seen.gc.minor).toBeGreaterThan(0);
    expect(seen.gc.totalMs).toBeGreaterThan(0);
    expect(seen.gc.maxMs).toBeLessThanOrEqual(seen.gc.totalMs);
    expect(seen.eventLoop.utilization).toBeGreaterThan(0);
    expect(seen.eventLoop.utilization).toBeLessThanOrEqual(1);

    const before = pauses.read(true);
    const after = pauses.read(false);
    expect(after.periodMs).toBeLessThan(before.periodMs);
    expect(after.gc.count).toBeLessThanOrEqual(before.gc.count);
  });
});

describe('RuntimePauses watch', () => {
  it('stops watching once nobody read the figures for a while, and starts again on the next read', async () => {
    const pauses = new RuntimePauses({ idleStopMs: 150 });
    cleanups.push(() => pauses.close());
    expect(pauses.watching).toBe(false);
    pauses.read(true);
    expect(pauses.watching).toBe(true);
    await waitFor(() => !pauses.watching, { what: 'the watch to stop after 150 ms without a read' });
    expect(pauses.read(false).gc.count).toBe(0);
    expect(pauses.watching).toBe(true);
  });
});

describe('GET /runtime of a proxy process', () => {
  it('reports its pauses and that sequential keep-alive requests reused one upstream connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-proxy-rt-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const b = await backend('a');
    cleanups.push(() => b.close());
    const client = await ProxyClient.start({
      dataDir: dir,
      environmentKey: 'p1:rt',
      label: 'shop/rt',
      host: '127.0.0.1',
      port: 0,
      watch: false,
    });
    const pid = client.pid;
    cleanups.push(async () => {
      await client.close();
      await waitFor(() => processStartTime(pid) === null, { what: 'the proxy process to be gone' });
    });
    await client.setRoutes({
      upstreams: [{ id: 'a', host: '127.0.0.1', port: b.port, pool: 'stable', version: 'r1' }],
      weights: { stable: 100, canary: 0 },
      match: [],
    });

    expect((await client.runtime(true)).upstreamConnectionsOpened).toBe(0);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    for (let i = 0; i < 30; i++) expect((await call(client.port, { agent })).body).toBe('a');

    const r = await client.runtime(false);
    expect(r.upstreamConnectionsOpened).toBe(1);
    expect(b.connections).toBe(1);
    // Only the first request waited, for the one connection to open; none for a full pool.
    expect(r.upstreamWaits.connect.count).toBe(1);
    expect(r.upstreamWaits.connect.maxMs).toBeGreaterThan(0);
    expect(r.upstreamWaits.pool).toEqual({ count: 0, totalMs: 0, maxMs: 0 });
    // A resetting read starts the longest wait afresh; counts run from the start.
    await client.runtime(true);
    const after = await client.runtime(false);
    expect(after.upstreamWaits.connect.count).toBe(1);
    expect(after.upstreamWaits.connect.maxMs).toBe(0);
    expect(r.periodMs).toBeGreaterThan(0);
    expect(r.gc.count).toBeGreaterThanOrEqual(r.gc.minor + r.gc.major);
    expect(r.eventLoop.utilization).toBeGreaterThan(0);
    expect(r.eventLoop.delayMaxMs).toBeGreaterThanOrEqual(r.eventLoop.delayP99Ms);
  });
});
