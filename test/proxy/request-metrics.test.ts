import { describe, expect, it } from 'vitest';
import { bucketHighUs, bucketIndex, quantileUs, RequestMetrics, ROLLUP_MS } from '../../src/proxy/index.ts';

describe('latency histogram buckets', () => {
  it('is exact below 128 µs and within 1.6 % above, monotonic', () => {
    for (const us of [0, 1, 127]) expect(bucketHighUs(bucketIndex(us))).toBe(us);
    let prev = -1;
    for (let us = 128; us < 120_000_000; us = Math.ceil(us * 1.013)) {
      const i = bucketIndex(us);
      expect(i).toBeGreaterThanOrEqual(prev);
      prev = i;
      const high = bucketHighUs(i);
      expect(high).toBeGreaterThanOrEqual(us);
      expect((high - us) / us).toBeLessThan(0.016);
    }
    const counts = new Float64Array(2000);
    for (let v = 1; v <= 100; v++) counts[bucketIndex(v * 1000)]! += 1;
    expect(quantileUs(counts, 100, 0.5) / 1000).toBeCloseTo(50, 0);
    expect(quantileUs(counts, 100, 0.99) / 1000).toBeCloseTo(99, 0);
  });
});

describe('RequestMetrics', () => {
  const T0 = 1_700_000_000_000; // a multiple of 10 s

  it('windows by time, version and pool with status classes and percentiles', () => {
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const stable = m.series('v1', 'stable');
    const canary = m.series('v2', 'canary');
    for (let i = 0; i < 100; i++) m.record(stable, 'GET', `/api/items/${i}?q=1`, 200, 10 + (i % 10), T0 + i * 10);
    for (let i = 0; i < 20; i++) m.record(canary, 'POST', '/api', i < 2 ? 503 : 201, 40, T0 + 1500);
    m.recordConnectionError(canary, T0 + 1500);
    now = T0 + 5000;
    const all = m.window(T0, T0 + 2000);
    expect(all.requests).toBe(120);
    expect(all.statusClasses).toEqual({ '1xx': 0, '2xx': 118, '3xx': 0, '4xx': 0, '5xx': 2 });
    const c = m.window(T0, T0 + 2000, { pool: 'canary' });
    expect([c.requests, c.errors, c.connectionErrors]).toEqual([20, 2, 1]);
    expect(c.p50).toBeCloseTo(40, 0);
    expect(c.latency.reduce((n, b) => n + b.count, 0)).toBe(20);
    const s = m.window(T0, T0 + 2000, { version: 'v1' });
    expect(s.p50).toBeGreaterThanOrEqual(14);
    expect(s.p99).toBeGreaterThanOrEqual(19);
    expect(s.p99).toBeLessThan(19.4);
    // the second slot [T0+1000, T0+2000) alone
    expect(m.window(T0 + 1000, T0 + 2000).requests).toBe(20);
    // older than the ring: gone
    now = T0 + 400_000;
    expect(m.window(T0, T0 + 2000).requests).toBe(0);
  });

  it('bounds route cardinality and exports Prometheus text', () => {
    const m = new RequestMetrics({ environment: 'prod', now: () => T0 });
    const s = m.series('v"1', 'stable');
    m.record(s, 'BREW', '/pot', 418, 0.7, T0);
    for (let i = 0; i < 150; i++) m.record(s, 'GET', `/u${i}/x`, 200, 3, T0);
    const text = m.prometheus();
    const routes = new Set([...text.matchAll(/gantry_proxy_requests_total\{[^}]*route="([^"]*)"/g)].map((x) => x[1]));
    expect(routes.size).toBe(101); // 100 named + GET /*other
    expect(routes.has('GET /*other')).toBe(true);
    expect(routes.has('OTHER /pot')).toBe(true);
    expect(text).toContain('gantry_proxy_requests_total{environment="prod",version="v\\"1",route="GET /u0",status_class="2xx"} 1');
    expect(text).toContain('gantry_proxy_requests_total{environment="prod",version="v\\"1",route="OTHER /pot",status_class="4xx"} 1');
    expect(text).toContain(
      'gantry_proxy_request_duration_seconds_bucket{environment="prod",version="v\\"1",route="GET /u0",le="0.0025"} 0',
    );
    expect(text).toContain('gantry_proxy_request_duration_seconds_bucket{environment="prod",version="v\\"1",route="GET /u0",le="0.005"} 1');
    expect(text).toContain('gantry_proxy_request_duration_seconds_count{environment="prod",version="v\\"1",route="OTHER /pot"} 1');
    expect(text).toMatch(/# TYPE gantry_proxy_request_duration_seconds histogram/);
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+\{.*\} [\d.e+-]+)$/);
  });

  it('hands out each completed ten-second roll-up once', () => {
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const s = m.series('v1', 'stable');
    m.record(s, 'GET', '/a', 200, 5, T0 + 1000);
    m.record(s, 'GET', '/b', 500, 7, T0 + 9999);
    m.record(s, 'GET', '/a', 200, 5, T0 + ROLLUP_MS + 1);
    now = T0 + ROLLUP_MS + 500;
    const first = m.drainRollups();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      environment: 'prod',
      version: 'v1',
      pool: 'stable',
      startMs: T0,
      endMs: T0 + ROLLUP_MS,
      requests: 2,
      errors: 1,
    });
    expect(first[0]?.routes.map((r) => [r.route, r.requests]).sort()).toEqual([
      ['GET /a', 1],
      ['GET /b', 1],
    ]);
    expect(m.drainRollups()).toEqual([]);
    now = T0 + 2 * ROLLUP_MS;
    const second = m.drainRollups();
    expect(second.map((r) => [r.startMs, r.requests])).toEqual([[T0 + ROLLUP_MS, 1]]);
  });
});
