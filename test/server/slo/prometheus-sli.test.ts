/**
 * Prometheus SLIs evaluated by Gantry: a real Prometheus (scraping every 500 ms) scrapes a small
 * exporter on loopback whose order counters the test drives (20 orders a second per shop, a
 * chosen share failing); SloService asks it through the real PrometheusSource on a real SQLite
 * store. The alert windows are 6 s and 2 s so that a page fires and resolves in seconds.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import type { SloConfig } from '../../../src/core/slo-config.ts';
import { PrometheusSource } from '../../../src/server/delivery/index.ts';
import { PrometheusSliReader } from '../../../src/server/slo/prometheus-sli-reader.ts';
import { SloService } from '../../../src/server/slo/index.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { sqliteTestDatabase, type TestDatabase } from '../../support/databases.ts';
import { freePort } from '../../support/net.ts';
import { prometheusAvailable, startPrometheus, type TestPrometheus, waitForSeries } from '../../support/prometheus.ts';
import { waitFor } from '../../support/wait.ts';

const ENV = { gantryVersion: '0.1.0', nodeVersion: 'v24', host: 'test' };
const HOUR = 3_600_000;

function prometheusSlo(name: string, good: string, total: string): SloConfig {
  return {
    name,
    objective: 0.99,
    periodMs: HOUR,
    sli: { kind: 'prometheus', good, total },
    alerts: [{ severity: 'page', burnRate: 14.4, longWindowMs: 6000, shortWindowMs: 2000 }],
  };
}

/** Sloth's `{{.window}}` in one query, Gantry's `{{window}}` in the other: both work. */
const CHECKOUT = prometheusSlo('checkout', 'sum(rate(orders_ok_total[{{ .window }}]))', 'sum(rate(orders_total[{{window}}]))');
/** Two series (one per shop): it must be aggregated. */
const UNSUMMED = prometheusSlo('unsummed', 'rate(orders_ok_total[{{window}}])', 'sum(rate(orders_total[{{window}}]))');
/** A metric nobody exports. */
const ABSENT = prometheusSlo('absent', 'sum(rate(refunds_ok_total[{{window}}]))', 'sum(rate(refunds_total[{{window}}]))');

/** Order counters per shop; every 50 ms each shop takes one order, failing at `failShare`. */
class Exporter {
  failShare = 0;
  readonly total = { a: 0, b: 0 };
  readonly ok = { a: 0, b: 0 };
  #owed = 0;
  readonly #timer = setInterval(() => {
    for (const shop of ['a', 'b'] as const) {
      this.total[shop] += 1;
      this.#owed += this.failShare;
      if (this.#owed >= 1) this.#owed -= 1;
      else this.ok[shop] += 1;
    }
  }, 50);
  readonly server = http.createServer((_req, res) => {
    const lines = ['# TYPE orders_total counter', '# TYPE orders_ok_total counter'];
    for (const shop of ['a', 'b'] as const) {
      lines.push(`orders_total{shop="${shop}"} ${this.total[shop]}`, `orders_ok_total{shop="${shop}"} ${this.ok[shop]}`);
    }
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`${lines.join('\n')}\n`);
  });
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe.runIf(prometheusAvailable())('Prometheus SLIs evaluated by Gantry', () => {
  let exporter: Exporter;
  let prometheus: TestPrometheus;
  let source: PrometheusSource;
  let database: TestDatabase;
  let store: Store;
  let projectId: string;

  beforeAll(async () => {
    exporter = new Exporter();
    const target = await exporter.listen();
    prometheus = await startPrometheus({ targets: [target], scrapeInterval: '500ms' });
    source = new PrometheusSource({ baseUrl: prometheus.url });
    database = await sqliteTestDatabase();
    store = await openStore({ url: database.url });
    projectId = (await store.projects.create({ name: 'shop', source: { kind: 'local', path: '/x' }, webhookSecret: 'w' })).id;
    await waitForSeries(prometheus.url, 'orders_total');
  }, 30_000);

  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.close();
    await store?.close();
    await database?.cleanup();
  });

  function service(slos: SloConfig[], query: ((promql: string, atMs: number) => ReturnType<PrometheusSource['query']>) | undefined) {
    return new SloService({
      store,
      clock: systemClock,
      targets: async () => [{ projectId, environment: 'production', slos }],
      traffic: async () => undefined,
      eventEnv: () => ENV,
      warn: () => undefined,
      ...(query === undefined ? {} : { prometheus: query }),
    });
  }

  const ask = (promql: string, atMs: number) => source.query(promql, new Date(atMs));

  it('pages when the SLI burns its budget, with its numbers, and resolves when it stops; shows what is wrong with bad queries', async () => {
    const slos = service([CHECKOUT, UNSUMMED, ABSENT], ask);
    const status = (name: string) => slos.status(projectId).find((s) => s.slo.name === name);
    // Healthy first: the 6 s window filled with good orders.
    await waitFor(
      async () => {
        await slos.evaluate();
        const rules = status('checkout')?.rules[0];
        return rules !== undefined && exporter.total.a > 150 && rules.longBurnRate === 0;
      },
      { what: 'a measured, healthy checkout SLI' },
    );
    expect(status('checkout')).toMatchObject({ evaluated: true, problem: null, alerts: { page: { status: 'inactive' } } });
    expect(status('unsummed')).toMatchObject({ evaluated: false, rules: [] });
    expect(status('unsummed')?.problem).toMatch(
      /^the good query over [26]s: returned 2 series \(\{instance=.*shop="a"\}, \{instance=.*shop="b"\}\); it must return one, e\.g\. aggregate with sum\(\)$/,
    );
    expect(status('absent')?.problem).toMatch(/^the (good|total) query over [26]s: returned no data$/);

    // Half the orders fail: a burn rate of 50 against a 1 % budget.
    exporter.failShare = 0.5;
    const fired = await waitFor(
      async () => {
        await slos.evaluate();
        return (await store.events.list({ type: 'slo.alert.fired' }))[0];
      },
      { what: 'the page alert' },
    );
    expect(fired.data).toMatchObject({ slo: 'checkout', severity: 'page', objective: 0.99 });
    const [reading] = fired.data.readings as { longBurnRate: number; shortBurnRate: number; holds: boolean }[];
    expect(reading?.holds).toBe(true);
    expect(reading?.shortBurnRate).toBeGreaterThan(14.4);
    expect(reading?.shortBurnRate).toBeLessThanOrEqual(50.5);
    expect(slos.firing(projectId)).toEqual([expect.objectContaining({ slo: 'checkout', severity: 'page' })]);

    exporter.failShare = 0;
    const resolved = await waitFor(
      async () => {
        await slos.evaluate();
        return (await store.events.list({ type: 'slo.alert.resolved' }))[0];
      },
      { what: 'the page alert to resolve' },
    );
    expect(resolved.data).toMatchObject({ slo: 'checkout', severity: 'page' });
    expect(resolved.data.peakBurnRate as number).toBeGreaterThan(14.4);
    expect(status('unsummed')?.alerts.page).toEqual({ status: 'inactive' });
  }, 60_000);

  it('reads the budget from the queries over the whole period, as counts of events', async () => {
    const reader = new PrometheusSliReader(ask);
    const at = Date.now();
    const reading = (await reader.read([{ id: 'x', slo: CHECKOUT }], at)).get('x');
    if (reading?.ok !== true) throw new Error(`no reading: ${JSON.stringify(reading)}`);
    // The rate over the hour times its seconds: the events Prometheus saw, as increase() counts them.
    const increase = async (metric: string) => (await ask(`sum(increase(${metric}[1h]))`, at)).value ?? Number.NaN;
    expect(reading.period.total).toBeCloseTo(await increase('orders_total'), 6);
    expect(reading.period.good).toBeCloseTo(await increase('orders_ok_total'), 6);
    expect(reading.period.total - reading.period.good).toBeGreaterThan(0);
    expect([...reading.windows.keys()].sort((a, b) => a - b)).toEqual([2000, 6000]);
  });

  it('shows Prometheus unreachable, or not configured, as the SLO’s problem instead of failing the evaluation', async () => {
    const closed = new PrometheusSource({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 });
    const unreachable = service([CHECKOUT], (promql, atMs) => closed.query(promql, new Date(atMs)));
    await unreachable.evaluate();
    const [down] = unreachable.status(projectId);
    expect(down).toMatchObject({ evaluated: false, rules: [], alerts: { page: { status: 'inactive' } } });
    expect(down?.problem).toMatch(
      /^the (good|total) query over [26]s: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)$/,
    );

    const unconfigured = service([CHECKOUT], undefined);
    await unconfigured.evaluate();
    expect(unconfigured.status(projectId)[0]?.problem).toContain('no Prometheus to ask: start the server with GANTRY_PROMETHEUS_URL');
  });
});
