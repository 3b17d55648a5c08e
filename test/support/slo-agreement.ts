/**
 * Gantry's burn rates against Prometheus's on the same traffic: a service whose errors and slow
 * answers come at a known share, an open-loop load through Gantry's proxy, and the comparison of
 * Gantry's SLO status with the series Prometheus records from `gantry slo rules` while it scrapes
 * Gantry's /metrics. Shared by test/e2e/slo-prometheus-agreement.test.ts and
 * bench/slo-prometheus-agreement.ts; no vitest here.
 *
 * Why the comparison is fair, and where it is not:
 * - Both count the same requests: the proxy's counters feed Gantry's roll-ups and live window as
 *   well as /metrics. Errors and slow answers are every n-th request (not random), so any run of
 *   consecutive requests holds the known share give or take one: a window that starts or ends a
 *   second apart in the two systems still holds the same share.
 * - Prometheus's `rate()` extrapolates each series to the window's edges by the same factor (the
 *   5xx and the total series are scraped together), so the ratio the rules record is the ratio of
 *   the counters' increases between the first and last scrape in the window. Gantry's is the
 *   ratio of the requests in [t − window, t). Same share, windows offset by under a scrape.
 * - The recorded series is read at Gantry's evaluation time `t` (the last rule evaluation at or
 *   before it, under one evaluation interval earlier).
 * - Windows shorter than MIN_SCRAPES scrapes are left out: over two or three scrapes rate()
 *   sees a span a whole scrape shorter than the window, and few requests make one more or fewer
 *   error a large share. Windows longer than the traffic so far are left out too (neither system
 *   has measured them).
 * - What is left is noise at the edges. Gantry spreads each 10 s roll-up evenly over its
 *   seconds and pro-rates the one a window cuts, and each side's window may hold one error or
 *   slow answer more or fewer. Slow answers complete SLOW_MS after they arrive, so a stall of the
 *   loaded machine bunches their completions: how many are in flight at a window's edge then
 *   moves the latency ratio by up to SLOW_MS / window (1 % of a 30 s window, 0.5 % of a minute).
 *   Measured at load 25–37 on 2 cores: p50 0.1–0.3 %, max 0.7–2 % on 30 s windows (2.1 % with a
 *   400 ms delay, 0.87 % since it is 300 ms), max 0.7 % on 1-minute ones; on a quiet machine
 *   0.27 % worst on 30 s. So the e2e test compares the 30 s windows (half a minute less of its
 *   time), and the benchmark the 1-minute ones as well.
 */
import http from 'node:http';
import { promDuration } from '../../src/slo/index.ts';
import { type ApiCall, waitForRunEnd } from './server.ts';
import { nodeServiceYaml } from './service-yaml.ts';
import { waitFor } from './wait.ts';

/** Fails every ERROR_EVERY-th request with a 500 and answers every SLOW_EVERY-th after SLOW_MS. */
export const ERROR_EVERY = 5;
export const SLOW_EVERY = 4;
export const SLOW_MS = 300;

export const AGREEMENT_SERVICE = `
const http = require('node:http');
let n = 0;
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  n++;
  const fail = n % ${ERROR_EVERY} === 0;
  const slow = n % ${SLOW_EVERY} === 1;
  const answer = () => { res.statusCode = fail ? 500 : 200; res.end(fail ? 'down' : 'up'); };
  if (slow) setTimeout(answer, ${SLOW_MS}); else answer();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** An availability and a latency SLO (250 ms: a bound of the proxy's Prometheus histogram) over `period`. */
export function agreementYaml(period: string): string {
  return nodeServiceYaml(`environments:
  production: { strategy: { recreate: {} } }
slos:
  availability: { objective: 99%, period: ${period} }
  latency: { objective: 95%, threshold: 250ms, period: ${period} }
`);
}

/**
 * Registers the repository as project `shop`, builds it, releases and deploys to production,
 * and waits for both SLOs to be evaluated; returns the environment's proxy port.
 */
export async function deployAgreementService(api: ApiCall, repoDir: string): Promise<number> {
  await api('POST', '/api/projects', { path: repoDir, name: 'shop' });
  const run = (await api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
  const ended = await waitForRunEnd({ api }, run, 60_000);
  if (ended.status !== 'success') throw new Error(`the build ended ${ended.status}`);
  const release = (await api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run })).body.release.id;
  await api('POST', '/api/projects/shop/environments/production/deploy', { release });
  const port = await waitFor(
    async () => {
      const view = (
        await api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
          'GET',
          '/api/projects/shop/environments/production/rollout',
        )
      ).body;
      return view.rollout?.phase === 'succeeded' ? view.live.port : undefined;
    },
    { what: 'the deploy to finish', timeoutMs: 60_000 },
  );
  await waitFor(async () => (await api<{ slos: unknown[] }>('GET', '/api/projects/shop/slos')).body.slos.length === 2, {
    what: 'both SLOs evaluated',
  });
  return port;
}

/** Requests at `rate` a second on keep-alive connections, each sent when due whatever earlier answers do. */
export class OpenLoopLoad {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  #timer: NodeJS.Timeout | undefined;
  sent = 0;
  failed = 0;

  readonly port: number;
  readonly rate: number;

  constructor(port: number, rate: number) {
    this.port = port;
    this.rate = rate;
  }

  start(): void {
    const started = performance.now();
    // A 10 ms tick sending however many are due keeps the rate when timers run late.
    this.#timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * this.rate);
      while (this.sent < due) {
        this.sent++;
        const req = http.get({ host: '127.0.0.1', port: this.port, path: '/', agent: this.#agent }, (res) => res.resume());
        req.on('error', () => {
          this.failed++;
        });
      }
    }, 10);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#agent.destroy();
  }
}

/** What the comparison reads of Gantry's `GET /api/projects/:project/slos`. */
export interface AgreementStatus {
  environment: string;
  slo: { name: string; objective: number };
  rules: { longWindowMs: number; shortWindowMs: number; longBurnRate: number; shortBurnRate: number }[];
  sinceMs: number;
  evaluatedAtMs: number | null;
}

export interface WindowAgreement {
  slo: string;
  window: string;
  gantry: number;
  prometheus: number;
  /** |gantry − prometheus| / prometheus */
  relativeDifference: number;
}

/** A window must hold at least this many scrapes to be compared (see the header). */
export const MIN_SCRAPES = 10;

async function instant(prometheusUrl: string, query: string, atMs: number): Promise<number | undefined> {
  const url = new URL('/api/v1/query', prometheusUrl);
  url.searchParams.set('query', query);
  url.searchParams.set('time', String(atMs / 1000));
  const body = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as {
    data?: { result?: { value: [number, string] }[] };
  };
  const value = body.data?.result?.[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

/**
 * Compares one Gantry evaluation with Prometheus's recorded error ratios at the same instant,
 * for every window long enough (MIN_SCRAPES × `scrapeMs`, or `minWindowMs`) and already
 * measured by both.
 */
export async function compareBurnRates(o: {
  statuses: AgreementStatus[];
  prometheusUrl: string;
  project: string;
  scrapeMs: number;
  /** When Prometheus began scraping: windows reaching further back are not compared. */
  scrapingSinceMs: number;
  minWindowMs?: number;
}): Promise<WindowAgreement[]> {
  const shortest = Math.max(MIN_SCRAPES * o.scrapeMs, o.minWindowMs ?? 0);
  const out: WindowAgreement[] = [];
  for (const status of o.statuses) {
    const at = status.evaluatedAtMs;
    if (at === null) continue;
    const burnRates = new Map<number, number>();
    for (const r of status.rules) {
      burnRates.set(r.longWindowMs, r.longBurnRate);
      burnRates.set(r.shortWindowMs, r.shortBurnRate);
    }
    const budget = 1 - status.slo.objective;
    for (const [windowMs, gantry] of [...burnRates].sort((a, b) => a[0] - b[0])) {
      if (windowMs < shortest || at - windowMs < Math.max(status.sinceMs, o.scrapingSinceMs)) continue;
      const window = promDuration(windowMs);
      const selector = `project="${o.project}",environment="${status.environment}",slo="${status.slo.name}"`;
      const ratio = await instant(o.prometheusUrl, `gantry_slo:sli_error:ratio_rate${window}{${selector}}`, at);
      if (ratio === undefined) continue;
      const prometheus = ratio / budget;
      out.push({ slo: status.slo.name, window, gantry, prometheus, relativeDifference: Math.abs(gantry - prometheus) / prometheus });
    }
  }
  return out;
}

/** Resolves once Prometheus has evaluated the rules after `atMs`, so the sample at `atMs` is final. */
export async function waitForRuleEvaluation(prometheusUrl: string, record: string, atMs: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const newest = await instant(prometheusUrl, `max(timestamp(${record}))`, Date.now()).catch(() => undefined);
    if (newest !== undefined && newest * 1000 > atMs) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Prometheus evaluated no ${record} after ${new Date(atMs).toISOString()} within ${timeoutMs} ms`);
}
