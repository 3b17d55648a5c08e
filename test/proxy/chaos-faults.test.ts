import { spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, shareTestPValue } from '../../src/chaos/index.ts';
import type { ProxyFault } from '../../src/core/chaos-config.ts';
import { ChaosFaults, TrafficProxy } from '../../src/proxy/index.ts';
import { waitFor } from '../support/wait.ts';
import { backend, call } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(random = Math.random): Promise<{ proxy: TrafficProxy; port: number; agent: Agent; hits: () => number }> {
  const b = await backend('app');
  const proxy = new TrafficProxy({ environment: 'test', port: 0, chaos: new ChaosFaults({ random }) });
  const { port } = await proxy.listen();
  proxy.setRoutes({
    upstreams: [{ id: 'i1', host: '127.0.0.1', port: b.port, pool: 'stable', version: 'r1' }],
    weights: { stable: 100, canary: 0 },
    match: [],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  cleanups.push(
    () => b.close(),
    () => proxy.close(),
    () => agent.destroy(),
  );
  return { proxy, port, agent, hits: () => b.requests };
}

const inOneMinute = () => Date.now() + 60_000;

describe('chaos faults at the proxy', () => {
  it('delays only the matching requests, and counts both sides of the blast radius', async () => {
    const { proxy, port, agent } = await setup();
    const fault: ProxyFault = {
      kind: 'latency',
      delayMs: 400,
      jitterMs: 0,
      distribution: 'uniform',
      percent: 100,
      match: { path: '/pay' },
    };
    proxy.chaos.set({ experimentId: 'x1', faults: [fault], deadlineAt: inOneMinute() });
    const t0 = performance.now();
    expect((await call(port, { agent, path: '/pay/card' })).status).toBe(200);
    const slow = performance.now() - t0;
    const t1 = performance.now();
    expect((await call(port, { agent, path: '/cart' })).status).toBe(200);
    const fast = performance.now() - t1;
    expect(slow).toBeGreaterThanOrEqual(400);
    expect(fast).toBeLessThan(400);
    const report = proxy.chaos.report();
    expect(report).toMatchObject({ experimentId: 'x1', affected: 1, unaffected: 1, byFault: [1], endedBy: null });
    expect(report?.inside.latency[0]?.valueMs).toBeGreaterThanOrEqual(400);
    expect(report?.outside.requests).toBe(1);
  });

  it('answers an aborted request with its status and a stable code, without reaching the instance; others pass', async () => {
    const { proxy, port, agent, hits } = await setup();
    proxy.chaos.set({
      experimentId: 'x2',
      faults: [{ kind: 'abort', status: 503, percent: 100, match: { header: { name: 'x-test', value: '1' } } }],
      deadlineAt: inOneMinute(),
    });
    const aborted = await call(port, { agent, headers: { 'x-test': '1' } });
    expect(aborted.status).toBe(503);
    expect(aborted.headers['x-gantry-proxy-error']).toBe('CHAOS_FAULT');
    expect(hits()).toBe(0);
    expect((await call(port, { agent })).status).toBe(200);
    expect(proxy.chaos.report()).toMatchObject({ affected: 1, unaffected: 1, inside: { requests: 1, errors: 1 } });
    // Which requests failed, by name: the record can say which and why, not only how many.
    expect(proxy.chaos.report()?.inside.failed).toEqual([{ at: expect.any(Number), method: 'GET', target: '/', status: 503 }]);
    expect(proxy.chaos.report()?.outside.failed).toEqual([]);
  });

  it('with no fault at all (an experiment of instance faults), counts every request outside the blast radius', async () => {
    const { proxy, port, agent } = await setup();
    proxy.chaos.set({ experimentId: 'x9', faults: [], deadlineAt: inOneMinute() });
    expect((await call(port, { agent })).status).toBe(200);
    expect(proxy.chaos.report()).toMatchObject({ affected: 0, unaffected: 1, outside: { requests: 1, errors: 0, failed: [] } });
  });

  it('cuts the connection of a reset request', async () => {
    const { proxy, port } = await setup();
    proxy.chaos.set({ experimentId: 'x3', faults: [{ kind: 'reset', percent: 100, match: {} }], deadlineAt: inOneMinute() });
    await expect(call(port)).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('takes the configured share of matching requests within the binomial interval', async () => {
    const { proxy, port, agent } = await setup(seededRandom(3));
    proxy.chaos.set({
      experimentId: 'x4',
      faults: [{ kind: 'abort', status: 500, percent: 10, match: { method: 'GET' } }],
      deadlineAt: inOneMinute(),
    });
    let aborted = 0;
    for (let i = 0; i < 600; i++) if ((await call(port, { agent })).status === 500) aborted++;
    expect(proxy.chaos.report()).toMatchObject({ affected: aborted, unaffected: 600 - aborted });
    expect(shareTestPValue(aborted, 600, 0.1)).toBeGreaterThan(0.001);
  });

  it('reverts by its own deadline with nobody asking, and says so', async () => {
    const { proxy, port, agent } = await setup();
    proxy.chaos.set({
      experimentId: 'x5',
      faults: [{ kind: 'abort', status: 503, percent: 100, match: {} }],
      deadlineAt: Date.now() + 300,
    });
    expect((await call(port, { agent })).status).toBe(503);
    const report = await waitFor(() => proxy.chaos.report()?.endedBy, { what: 'the deadline to clear the faults' });
    expect(report).toBe('deadline');
    expect((await call(port, { agent })).status).toBe(200);
    expect(proxy.chaos.active).toBe(false);
  });

  it('lets held requests go at once when the faults are cleared', async () => {
    const { proxy, port, agent } = await setup();
    proxy.chaos.set({
      experimentId: 'x6',
      faults: [{ kind: 'timeout', afterMs: 60_000, percent: 100, match: {} }],
      deadlineAt: inOneMinute(),
    });
    const pending = call(port, { agent });
    await waitFor(() => proxy.chaos.report()?.affected === 1, { what: 'the request to be held' });
    const report = proxy.chaos.clear('x6');
    expect(report).toMatchObject({ endedBy: 'cleared', affected: 1 });
    expect((await pending).status).toBe(200);
  });

  it('refuses a deadline in the past', () => {
    const faults = new ChaosFaults();
    expect(() => faults.set({ experimentId: 'x', faults: [{ kind: 'reset', percent: 1, match: {} }], deadlineAt: Date.now() - 1 })).toThrow(
      /not in the future/,
    );
  });
});

describe('a fault on one service edge', () => {
  /** A Gantry instance stand-in: a process with its instance key that calls the proxy once and prints the status. */
  function callAs(key: string | null, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['-e', `fetch('http://127.0.0.1:${port}/orders').then((r) => console.log(r.status), () => console.log(0))`],
        {
          env: key === null ? { PATH: process.env.PATH } : { PATH: process.env.PATH, GANTRY_INSTANCE_KEY: key },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('error', reject);
      child.on('exit', () => resolve(Number(out.trim())));
    });
  }

  it("faults only the calls of the named caller's instances, identified by the process at the other end", async () => {
    const { proxy, port, agent } = await setup();
    proxy.chaos.set({
      experimentId: 'edge',
      faults: [{ kind: 'abort', status: 503, percent: 100, match: { caller: 'checkout/staging', callerKeys: ['data/checkout-1'] } }],
      deadlineAt: inOneMinute(),
    });
    expect(await callAs('data/checkout-1', port)).toBe(503); // the caller: its edge is cut
    expect(await callAs('data/payments-1', port)).toBe(200); // another service: untouched
    expect(await callAs(null, port)).toBe(200); // not an instance at all
    expect((await call(port, { agent })).status).toBe(200); // this process: neither
    expect(proxy.chaos.report()).toMatchObject({ affected: 1, unaffected: 3 });
  });

  it('takes new caller keys for the set in force without resetting its counts or deadline, and refuses another set', () => {
    const faults = new ChaosFaults({ random: () => 0 });
    const deadlineAt = inOneMinute();
    const edge: ProxyFault = { kind: 'abort', status: 503, percent: 100, match: { caller: 'checkout/staging', callerKeys: ['old'] } };
    faults.set({ experimentId: 'x', faults: [edge], deadlineAt });
    const decide = (caller: string) => faults.decide('GET', '/', [], 'r1', () => caller);
    expect(decide('old')?.kind).toBe('abort');
    expect(decide('new')?.kind).toBe('none');
    const generation = faults.generation;

    faults.followCallers('x', [['old', 'new']]);
    expect(faults.generation).toBeGreaterThan(generation);
    expect(decide('new')?.kind).toBe('abort');
    expect(decide('other')?.kind).toBe('none');
    expect(faults.report()).toMatchObject({ experimentId: 'x', deadlineAt, affected: 2, unaffected: 2, byFault: [2] });

    expect(() => faults.followCallers('y', [['new']])).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => faults.followCallers('x', [])).toThrow(/each of the 1 faults/);
    faults.clear();
    expect(() => faults.followCallers('x', [['new']])).toThrow(/not set here/);
  });
});
