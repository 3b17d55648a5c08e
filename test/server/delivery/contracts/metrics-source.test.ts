/**
 * The `MetricsSource` port's contract (src/server/delivery/ports.ts), run against the in-memory
 * fake and the real `PrometheusSource` talking HTTP to a stand-in for Prometheus's query API
 * (the real Prometheus is covered by test/server/delivery/prometheus-source.test.ts when present).
 * Both answer a number per check, and neither ever rejects when the backend is down: every check
 * is null (inconclusive) with a problem line naming it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PrometheusCheckConfig } from '../../../../src/core/delivery-config.ts';
import { freePort } from '../../../../src/platform/ports.ts';
import { type MetricsSource, PrometheusSource } from '../../../../src/server/delivery/index.ts';
import { FakeMetricsSource } from '../../../support/fakes/fake-metrics.ts';

const CHECKS: PrometheusCheckConfig[] = [
  { name: 'saturation', query: 'max(saturation{version="$version"})', max: 0.8 },
  { name: 'queue', query: 'sum(queue{environment="$environment"})' },
];
const VARS = { version: 'r2', environment: 'production' };

interface Harness {
  /** A source whose backend answers `saturation` 0.3 and `queue` 7. */
  up(): Promise<MetricsSource>;
  /** A source whose backend cannot be reached. */
  down(): Promise<MetricsSource>;
  cleanup(): Promise<void>;
}

const implementations: [string, () => Harness][] = [
  [
    'fake',
    () => ({
      up: async () => {
        const source = new FakeMetricsSource();
        source.set('saturation', 0.3);
        source.set('queue', 7);
        return source;
      },
      down: async () => Object.assign(new FakeMetricsSource(), { unavailable: true }),
      cleanup: async () => undefined,
    }),
  ],
  [
    'real',
    () => {
      let server: Server | null = null;
      return {
        up: async () => {
          server = createServer((req, res) => {
            const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
            const value = query.includes('saturation') ? '0.3' : '7';
            res.setHeader('content-type', 'application/json');
            res.end(
              JSON.stringify({
                status: 'success',
                data: { resultType: 'vector', result: [{ metric: {}, value: [1_700_000_000, value] }] },
              }),
            );
          });
          await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
          return new PrometheusSource({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 2000 });
        },
        down: async () => new PrometheusSource({ baseUrl: `http://127.0.0.1:${await freePort('127.0.0.1')}`, timeoutMs: 2000 }),
        cleanup: async () => {
          server?.closeAllConnections();
          await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        },
      };
    },
  ],
];

describe.each(implementations)('MetricsSource contract: %s', (_name, make) => {
  let h: Harness;
  beforeEach(() => {
    h = make();
  });
  afterEach(() => h.cleanup());

  it('answers each check by name with its number and no problems', async () => {
    const source = await h.up();
    expect(await source.evaluate(CHECKS, VARS, new Date())).toEqual({ values: { saturation: 0.3, queue: 7 }, problems: [] });
  });

  it('answers again on every call (nothing is cached), also concurrently', async () => {
    const source = await h.up();
    const [a, b] = await Promise.all([source.evaluate(CHECKS, VARS), source.evaluate(CHECKS, VARS)]);
    expect(a).toEqual(b);
  });

  it('never rejects when the backend is down: every check is null with a problem naming it', async () => {
    const source = await h.down();
    const result = await source.evaluate(CHECKS, VARS, new Date());
    expect(result.values).toEqual({ saturation: null, queue: null });
    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toMatch(/saturation/);
    expect(result.problems[1]).toMatch(/queue/);
  });
});
