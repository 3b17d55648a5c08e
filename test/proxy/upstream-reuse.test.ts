/**
 * How the proxy reuses upstream connections between bursts, and what it counts of the requests
 * that waited for one (`TrafficProxy.upstreamStats`, reported by the proxy process's `GET /runtime`):
 * a real proxy, a real node:http backend and real keep-alive clients on loopback.
 */
import type { ServerResponse } from 'node:http';
import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { TrafficProxy } from '../../src/proxy/index.ts';
import { backend, call, until, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A backend that holds each answer until `release()` (while `hold` is set); `held()` says how many wait. */
async function holdingBackend(): Promise<{ b: Backend; held: () => number; release: () => void; hold: boolean }> {
  const waiting: ServerResponse[] = [];
  const h = {
    b: await backend('b', (req, res) => {
      req.resume();
      if (h.hold) waiting.push(res);
      else res.end('b');
    }),
    held: () => waiting.length,
    release: () => {
      for (const res of waiting.splice(0)) res.end('b');
    },
    hold: true,
  };
  cleanups.push(() => h.b.close());
  return h;
}

async function proxyTo(
  port: number,
  o: { upstreamIdleTimeoutMs?: number; maxSocketsPerUpstream?: number },
): Promise<{ proxy: TrafficProxy; port: number }> {
  const proxy = new TrafficProxy({ environment: 'test', port: 0, ...o });
  const listening = await proxy.listen();
  proxy.setRoutes({
    upstreams: [{ id: 'b', host: '127.0.0.1', port, pool: 'stable', version: 'v1' }],
    weights: { stable: 100, canary: 0 },
    match: [],
  });
  cleanups.push(() => proxy.close());
  return { proxy, port: listening.port };
}

/** `n` requests at once, each on its own client connection, all held upstream until every one arrived. */
async function burst(port: number, n: number, h: { held: () => number; release: () => void }): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: n });
  cleanups.push(() => agent.destroy());
  const answers = Array.from({ length: n }, () => call(port, { agent }));
  await until(`${n} requests held upstream`, () => h.held() === n);
  h.release();
  for (const r of await Promise.all(answers)) expect(r.status).toBe(200);
}

describe('upstream connection reuse', () => {
  it('keeps the connections a burst opened while steady traffic follows, so the next burst opens none', async () => {
    const h = await holdingBackend();
    // Connections idle for 400 ms are closed (the proxy's sweep runs every 500 ms).
    const { proxy, port } = await proxyTo(h.b.port, { upstreamIdleTimeoutMs: 400 });

    await burst(port, 8, h);
    expect(h.b.connections).toBe(8);
    // Every request of the first burst was sent on a connection still being opened.
    expect(proxy.upstreamStats.connectWaits.count).toBe(8);
    expect(proxy.upstreamStats.connectWaits.maxMs).toBeGreaterThan(0);

    // Steady traffic, one request at a time, for past the idle timeout and a sweep: reusing the
    // warmest connection first would leave seven of the eight idle until the sweep closed them.
    h.hold = false;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const end = performance.now() + 1100;
    while (performance.now() < end) expect((await call(port, { agent })).status).toBe(200);
    expect(h.b.connections).toBe(8);

    h.hold = true;
    await burst(port, 8, h);
    expect(h.b.connections).toBe(8);
    expect(proxy.upstreamStats.connectionsOpened).toBe(8);
    expect(proxy.upstreamStats.connectWaits.count).toBe(8);
  });

  it('counts the requests that waited for a connection of a full pool, and for how long', async () => {
    const h = await holdingBackend();
    const { proxy, port } = await proxyTo(h.b.port, { maxSocketsPerUpstream: 2 });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    const answers = Array.from({ length: 4 }, () => call(port, { agent }));
    await until('two requests held upstream', () => h.held() === 2);
    await until('two requests waiting for a connection', () => proxy.upstreamStats.waitingForPool === 2);
    expect(proxy.upstreamStats.poolWaits.count).toBe(0);
    h.release();
    await until('the two others held upstream', () => h.held() === 2);
    h.release();
    for (const r of await Promise.all(answers)) expect(r.status).toBe(200);
    const waits = proxy.upstreamStats.poolWaits;
    expect(waits.count).toBe(2);
    expect(waits.maxMs).toBeGreaterThan(0);
    expect(waits.totalMs).toBeGreaterThanOrEqual(waits.maxMs);
    expect(h.b.connections).toBe(2);
    expect(proxy.upstreamStats.waitingForPool).toBe(0);
  });
});
