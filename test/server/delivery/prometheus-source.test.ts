import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { escapePromQLString, PrometheusSource, renderPromQL } from '../../../src/server/delivery/prometheus-source.ts';
import { prometheusAvailable, startPrometheus, type TestPrometheus, waitForSeries } from '../../support/prometheus.ts';

const prod = { version: 'v2', environment: 'prod' };

/** A node:http server on 127.0.0.1:0; every test's servers are closed after it. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('renderPromQL', () => {
  it('substitutes both variables inside either kind of quotes', () => {
    expect(renderPromQL(`x{version="$version",environment='$environment'}`, prod)).toBe(`x{version="v2",environment='prod'}`);
  });

  it('escapes backslashes, quotes, backticks and control characters', () => {
    expect(escapePromQLString('a\\b"c\'d`e\nf')).toBe('a\\\\b\\x22c\\x27d\\x60e\\x0af');
    expect(renderPromQL('x{version="$version"}', { version: 'v2"} or vector(1) #', environment: '' })).toBe(
      'x{version="v2\\x22} or vector(1) #"}',
    );
  });

  it('does not expand a placeholder that a substituted value contains', () => {
    expect(renderPromQL('x{a="$version",b="$environment"}', { version: '$environment', environment: 'prod' })).toBe(
      'x{a="$environment",b="prod"}',
    );
  });

  it('leaves other $words, escaped characters and comments alone', () => {
    expect(renderPromQL('x{a="\\"$version$versions"} # $version\ny', prod)).toBe('x{a="\\"v2$versions"} # $version\ny');
  });

  it('refuses a placeholder outside a quoted string, where escaping cannot protect the query', () => {
    expect(() => renderPromQL('x{version=$version}', prod)).toThrow(InputError);
    expect(() => renderPromQL('x{version=`$version`}', prod)).toThrow(/\$version at offset 11/);
    expect(() => renderPromQL('x{a="b"} * $environment', prod)).toThrow(/\$environment/);
  });
});

describe('PrometheusSource without a Prometheus', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });

  it('rejects a base URL that cannot be a Prometheus', () => {
    expect(() => new PrometheusSource({ baseUrl: 'not a url' })).toThrow(InputError);
    expect(() => new PrometheusSource({ baseUrl: 'file:///tmp' })).toThrow(/http or https/);
    expect(() => new PrometheusSource({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 0 })).toThrow(/positive/);
  });

  it('reports a refused connection as a problem, without throwing', async () => {
    const { server, url } = await serve(() => {});
    await close(server); // the port is now closed
    const result = await new PrometheusSource({ baseUrl: url }).evaluate([{ name: 'errors', query: 'up' }], prod);
    expect(result.values).toEqual({ errors: null });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      /^prometheus check "errors": cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\)$/,
    );
  });

  it('gives up after timeoutMs on a server that never answers', async () => {
    const { server, url } = await serve(() => {
      /* holds every request */
    });
    servers.push(server);
    const started = Date.now();
    const result = await new PrometheusSource({ baseUrl: url, timeoutMs: 300 }).evaluate([{ name: 'slow', query: 'up' }], prod);
    const elapsed = Date.now() - started;
    expect(result).toEqual({ values: { slow: null }, problems: [`prometheus check "slow": no answer from ${url} within 300 ms`] });
    expect(elapsed).toBeGreaterThanOrEqual(290); // it waited for its timeout (a hang fails the test's own)
  });

  it('reports an HTTP error or a non-Prometheus answer', async () => {
    const { server, url } = await serve((req, res) => {
      if (req.url?.startsWith('/bad-gateway/')) {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
      }
    });
    servers.push(server);
    const gateway = await new PrometheusSource({ baseUrl: `${url}/bad-gateway` }).evaluate([{ name: 'a', query: 'up' }], prod);
    expect(gateway.problems).toEqual([`prometheus check "a": ${url} answered HTTP 502 Bad Gateway`]);
    const other = await new PrometheusSource({ baseUrl: url }).evaluate([{ name: 'b', query: 'up' }], prod);
    expect(other.problems).toEqual([`prometheus check "b": ${url} answered JSON that is not a Prometheus query result`]);
  });

  it('runs the queries concurrently, under a path prefix, with credentials as a Basic header', async () => {
    // Answers only once all three queries are in flight: run one at a time, the first would time out.
    const waiting: { res: ServerResponse; query: string }[] = [];
    const seen: { path: string; auth: string | undefined }[] = [];
    const { server, url } = await serve((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push({ path: u.pathname, auth: req.headers.authorization });
      waiting.push({ res, query: u.searchParams.get('query') ?? '' });
      if (waiting.length < 3) return;
      for (const w of waiting) {
        const value = w.query.replace(/\D/g, '');
        w.res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [1, value] } }));
      }
    });
    servers.push(server);
    const source = new PrometheusSource({ baseUrl: `${url.replace('//', '//ops:s%40cret@')}/prom`, timeoutMs: 1_000 });
    const result = await source.evaluate(
      [1, 2, 3].map((n) => ({ name: `q${n}`, query: `vector(${n})` })),
      prod,
    );
    expect(result).toEqual({ values: { q1: 1, q2: 2, q3: 3 }, problems: [] });
    expect(seen).toEqual(Array(3).fill({ path: '/prom/api/v1/query', auth: `Basic ${Buffer.from('ops:s@cret').toString('base64')}` }));
  });

  it('reports a placeholder outside quotes without asking Prometheus', async () => {
    let requests = 0;
    const { server, url } = await serve((_req, res) => {
      requests++;
      res.end();
    });
    servers.push(server);
    const result = await new PrometheusSource({ baseUrl: url }).evaluate([{ name: 'bare', query: 'x{v=$version}' }], prod);
    expect(result.values).toEqual({ bare: null });
    expect(result.problems).toEqual(['prometheus check "bare": $version at offset 4 must be inside a "…" or \'…\' string literal']);
    expect(requests).toBe(0);
  });
});

describe.runIf(prometheusAvailable())('PrometheusSource against a real Prometheus', () => {
  let app: Server;
  let prometheus: TestPrometheus | undefined;
  let source: PrometheusSource;

  beforeAll(async () => {
    ({ server: app } = await serve((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end(
          [
            '# TYPE app_requests_total counter',
            'app_requests_total{version="v1",environment="prod"} 900',
            'app_requests_total{version="v2",environment="prod"} 100',
            '# TYPE app_errors_total counter',
            'app_errors_total{version="v1",environment="prod"} 9',
            'app_errors_total{version="v2",environment="prod"} 7',
            '# TYPE app_build_info gauge',
            'app_build_info{version="we\\"ird\\\\v\'",environment="prod"} 1',
            '',
          ].join('\n'),
        );
    }));
    const target = `127.0.0.1:${(app.address() as AddressInfo).port}`;
    prometheus = await startPrometheus({ targets: [target] });
    await waitForSeries(prometheus.url, 'app_build_info');
    source = new PrometheusSource({ baseUrl: prometheus.url });
  }, 30_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (app !== undefined) await close(app);
  });

  it('computes a ratio for the substituted version, and a scalar', async () => {
    const sel = 'version="$version",environment="$environment"';
    const result = await source.evaluate(
      [
        { name: 'error-ratio', query: `sum(app_errors_total{${sel}}) / sum(app_requests_total{${sel}})`, max: 0.01 },
        { name: 'all-requests', query: `scalar(sum(app_requests_total{environment='$environment'}))` },
      ],
      prod,
    );
    expect(result).toEqual({ values: { 'error-ratio': 0.07, 'all-requests': 1000 }, problems: [] });
    const v1 = await source.evaluate([{ name: 'error-ratio', query: `sum(app_errors_total{${sel}}) / sum(app_requests_total{${sel}})` }], {
      ...prod,
      version: 'v1',
    });
    expect(v1.values['error-ratio']).toBeCloseTo(0.01, 10);
  });

  it('gives null without a problem when there is no data', async () => {
    const result = await source.evaluate([{ name: 'none', query: 'app_errors_total{version="$version"}' }], { ...prod, version: 'v3' });
    expect(result).toEqual({ values: { none: null }, problems: [] });
    // An hour ago, before the first scrape, the v2 series did not exist: `at` reaches Prometheus.
    const past = await source.evaluate(
      [{ name: 'past', query: 'app_errors_total{version="$version"}' }],
      prod,
      new Date(Date.now() - 3_600_000),
    );
    expect(past).toEqual({ values: { past: null }, problems: [] });
  });

  it('reports a query returning several series', async () => {
    const result = await source.evaluate([{ name: 'multi', query: 'app_requests_total{environment="$environment"}' }], prod);
    expect(result.values).toEqual({ multi: null });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      /^prometheus check "multi": returned 2 series \(\{.*version="v1".*\}, \{.*version="v2".*\}\); it must return one/,
    );
  });

  it("reports bad PromQL with Prometheus's own error", async () => {
    const result = await source.evaluate(
      [
        { name: 'broken', query: 'sum(rate(app_requests_total[1m])' },
        { name: 'fine', query: 'vector(3)' },
      ],
      prod,
    );
    expect(result.values).toEqual({ broken: null, fine: 3 });
    expect(result.problems).toEqual([
      expect.stringMatching(/^prometheus check "broken": Prometheus error \(bad_data\): .*parse error: unclosed left parenthesis/),
    ]);
  });

  it('reports NaN and infinities', async () => {
    const result = await source.evaluate(
      [
        { name: 'nan', query: 'vector(0) / 0' },
        { name: 'inf', query: 'scalar(vector(1)) / 0' },
      ],
      prod,
    );
    expect(result.values).toEqual({ nan: null, inf: null });
    expect(result.problems).toEqual([
      'prometheus check "nan": returned NaN, not a finite number',
      'prometheus check "inf": returned +Inf, not a finite number',
    ]);
  });

  it('reports a range vector', async () => {
    const result = await source.evaluate([{ name: 'range', query: 'app_errors_total{version="$version"}[1m]' }], prod);
    expect(result.problems).toEqual(['prometheus check "range": returned a range vector; it must return an instant vector or a scalar']);
  });

  it('keeps an injection in the version from changing the query', async () => {
    const query = 'app_errors_total{version="$version",environment="$environment"}';
    const injected = { ...prod, version: 'v2"} or vector(1) #' };
    // Pasted in verbatim, the payload does change the query (two series instead of none)…
    const raw = await source.evaluate(
      [{ name: 'raw', query: query.replace('$version', injected.version).replace('$environment', 'prod') }],
      prod,
    );
    expect(raw.problems).toEqual([expect.stringMatching(/returned 2 series/)]);
    // …escaped, it is just a label value no series has.
    expect(await source.evaluate([{ name: 'safe', query }], injected)).toEqual({ values: { safe: null }, problems: [] });
  });

  it('matches a label value with quotes and backslashes exactly, in either kind of quotes', async () => {
    const vars = { ...prod, version: 'we"ird\\v\'' };
    const result = await source.evaluate(
      [
        { name: 'double', query: 'sum(app_build_info{version="$version"})' },
        { name: 'single', query: "sum(app_build_info{version='$version'})" },
      ],
      vars,
    );
    expect(result).toEqual({ values: { double: 1, single: 1 }, problems: [] });
  });
});
