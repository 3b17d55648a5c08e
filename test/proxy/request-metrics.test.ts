import { describe, expect, it } from 'vitest';
import {
  bucketHighUs,
  bucketIndex,
  MAX_PENDING_ROLLUPS,
  quantileUs,
  RequestMetrics,
  RING_SECONDS,
  ROLLUP_MS,
} from '../../src/proxy/index.ts';
import type { VersionSeries } from '../../src/proxy/request-metrics.ts';

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

  it('counts repeated and alternating targets and methods each on their own route', () => {
    const m = new RequestMetrics({ environment: 'prod', now: () => T0 });
    const s = m.series('v1', 'stable');
    for (const [method, url] of [
      ['GET', '/a'],
      ['GET', '/a'],
      ['POST', '/a'],
      ['GET', '/a?x'],
      ['GET', '/b'],
      ['POST', '/a'],
    ])
      m.record(s, method as string, url as string, 200, 1, T0);
    const count = (route: string): number =>
      Number(new RegExp(`route="${route}",status_class="2xx"\\} (\\d+)`).exec(m.prometheus())?.[1] ?? 0);
    expect([count('GET /a'), count('POST /a'), count('GET /b')]).toEqual([3, 2, 1]);
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

  it('keeps completed roll-ups, numbered, until they are acknowledged', () => {
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const stable = m.series('v1', 'stable');
    const canary = m.series('v2', 'canary');
    m.record(stable, 'GET', '/a', 200, 5, T0 + 1000);
    m.record(canary, 'GET', '/a', 200, 5, T0 + 2000);
    now = T0 + ROLLUP_MS;
    const first = m.pendingRollups();
    expect(first.rollups.map((r) => [r.seq, r.version, r.startMs])).toEqual([
      [1, 'v1', T0],
      [2, 'v2', T0],
    ]);
    expect(first.through).toBe(2);
    // Not acknowledged: read again, the same ones.
    expect(m.pendingRollups()).toEqual(first);
    m.record(stable, 'GET', '/a', 200, 5, T0 + ROLLUP_MS + 1);
    now = T0 + 2 * ROLLUP_MS;
    expect(m.ackRollups(1)).toBe(1);
    expect(m.ackRollups(1)).toBe(0);
    const second = m.pendingRollups();
    expect(second.rollups.map((r) => [r.seq, r.version, r.startMs])).toEqual([
      [2, 'v2', T0],
      [3, 'v1', T0 + ROLLUP_MS],
    ]);
    expect(m.ackRollups(second.through)).toBe(2);
    expect(m.pendingRollups()).toEqual({ rollups: [], through: 3, dropped: 0 });
  });

  it('collects roll-ups while nobody reads, beyond the ring, dropping the oldest past the cap', () => {
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const s = m.series('v1', 'stable');
    const periods = MAX_PENDING_ROLLUPS + 5;
    for (let i = 0; i < periods; i++) {
      m.record(s, 'GET', '/', 200, 1 + (i % 50), T0 + i * ROLLUP_MS);
      now = T0 + (i + 1) * ROLLUP_MS;
      m.collectRollups(); // the proxy process's timer
    }
    const { rollups, dropped } = m.pendingRollups();
    expect(periods * ROLLUP_MS).toBeGreaterThan(RING_SECONDS * 1000);
    expect([rollups.length, dropped]).toEqual([MAX_PENDING_ROLLUPS, 5]);
    expect(rollups[0]?.startMs).toBe(T0 + 5 * ROLLUP_MS);
    expect(rollups.every((r) => r.requests === 1)).toBe(true);
  });

  it('forgets the latencies of a reused slot (the ring wrapped) and keeps each slot to its own buckets', () => {
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const s = m.series('v1', 'stable');
    m.record(s, 'GET', '/', 200, 900, T0); // slot 0, a slow one
    m.record(s, 'GET', '/', 200, 0.05, T0);
    const later = T0 + RING_SECONDS * 1000; // the same slot, one lap later
    m.record(s, 'GET', '/', 200, 2, later);
    m.record(s, 'GET', '/', 200, 3, later + 1000);
    now = later + 2000;
    const w = m.window(later, later + 2000);
    expect(w.requests).toBe(2);
    expect(w.latency.map((b) => b.count)).toEqual([1, 1]);
    expect(w.p99).toBeLessThan(4);
    expect(m.window(later, later + 1000).latency).toEqual([{ valueMs: bucketHighUs(bucketIndex(2000)) / 1000, count: 1 }]);
  });

  it('sums whole ten-second blocks and edge seconds to what each request recorded, across laps of the ring', () => {
    // Seeded: the same traffic every run. Gaps of single seconds and of whole blocks, two laps of
    // the ring, windows read at odd times with odd bounds, every roll-up collected on the way.
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let now = T0;
    const m = new RequestMetrics({ environment: 'prod', now: () => now });
    const series = [m.series('v1', 'stable'), m.series('v2', 'canary')];
    const seriesOf = (i: number): VersionSeries => series[i] as VersionSeries;
    const sent: { at: number; series: number; status: number; ms: number; connError: boolean }[] = [];
    const expected = (
      since: number,
      until: number,
      version: string,
    ): { requests: number; errors: number; conn: number; hist: number[] } => {
      const from = Math.max(Math.ceil(since / 1000), Math.floor(now / 1000) - RING_SECONDS + 1);
      const to = Math.ceil(until / 1000);
      const hist: number[] = [];
      let requests = 0;
      let errors = 0;
      let conn = 0;
      for (const r of sent) {
        const sec = Math.floor(r.at / 1000);
        if (sec < from || sec >= to || seriesOf(r.series).version !== version) continue;
        if (r.connError) {
          conn++;
          continue;
        }
        requests++;
        if (r.status >= 500) errors++;
        const b = bucketIndex(r.ms * 1000);
        hist[b] = (hist[b] ?? 0) + 1;
      }
      return { requests, errors, conn, hist };
    };
    const asHist = (latency: { valueMs: number; count: number }[]): number[] => {
      const out: number[] = [];
      for (const b of latency) out[bucketIndex(b.valueMs * 1000)] = b.count;
      return out;
    };
    let reads = 0;
    let rolled = 0;
    for (let sec = 0; sec < 2 * RING_SECONDS + 37; sec++) {
      const quiet = rand() < 0.15 || (sec >= 200 && sec < 230);
      if (!quiet) {
        for (let i = rand() * 30; i > 0; i--) {
          const r = {
            at: T0 + sec * 1000 + Math.floor(rand() * 1000),
            series: rand() < 0.2 ? 1 : 0,
            status: rand() < 0.05 ? 503 : 200,
            ms: rand() < 0.9 ? rand() * 3 : rand() * 2000,
            connError: rand() < 0.02,
          };
          sent.push(r);
          const s = seriesOf(r.series);
          if (r.connError) m.recordConnectionError(s, r.at);
          else m.record(s, 'GET', '/', r.status, r.ms, r.at);
        }
      }
      now = T0 + sec * 1000 + 999;
      if (sec % 7 === 3) {
        const since = now - 1000 * Math.floor(rand() * 320) - Math.floor(rand() * 1000);
        const until = now - Math.floor(rand() * 40_000);
        for (const version of ['v1', 'v2']) {
          const w = m.window(since, until, { version });
          const e = expected(since, until, version);
          expect([w.requests, w.errors, w.connectionErrors]).toEqual([e.requests, e.errors, e.conn]);
          expect(asHist(w.latency)).toEqual(e.hist);
          reads++;
        }
      }
      for (const r of m.drainRollups()) {
        const e = expected(r.startMs, r.endMs, r.version);
        expect([r.requests, r.errors, r.connectionErrors]).toEqual([e.requests, e.errors, e.conn]);
        expect(asHist(r.latency)).toEqual(e.hist);
        rolled++;
      }
    }
    expect(reads).toBeGreaterThan(150);
    expect(rolled).toBeGreaterThan(100);
  });
});
