/**
 * The OTLP receiver against the real OpenTelemetry SDK from npm: a service process exporting
 * with the http/json exporter and another with http/protobuf, configured only by the variables
 * the runtime gives instances, send to a real server on loopback. Both encodings decode to the
 * same traces; the slow request's trace is found by its heatmap cell and drawn as a waterfall;
 * latency by route counts every request; a wrong token is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/core/errors.ts';
import { LATENCY_BOUNDS_MS, latencyRow } from '../../../src/delivery/index.ts';
import { RouteTable } from '../../../src/server/http/index.ts';
import { appWithoutAuth } from '../../support/http-app.ts';
import { IngestTokens, otlpEnvironment, registerTraceRoutes, TraceService } from '../../../src/server/traces/index.ts';
import type { Project } from '../../../src/store/ports.ts';
import type { RouteLatencyRow, TraceSummary, Waterfall } from '../../../src/traces/index.ts';
import { freePort } from '../../support/net.ts';
import { waitFor } from '../../support/wait.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'traced-service.mjs');
const PROJECT: Project = { id: 'P-shop', name: 'shop' } as Project;
const PROTOCOLS = ['http/json', 'http/protobuf'] as const;
const SLOW_MS = 600;

describe('OTLP/HTTP traces from the OpenTelemetry SDK', () => {
  let dataDir: string;
  let app: FastifyInstance;
  let base: string;
  let tokens: IngestTokens;
  const services = new Map<string, { child: ChildProcess; port: number }>();

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}/api/projects/shop/environments/production${path}`);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-otlp-'));
    tokens = new IngestTokens(dataDir);
    const routes = new RouteTable();
    registerTraceRoutes(routes, {
      traces: new TraceService(),
      tokens,
      requireProject: async (name) => {
        if (name !== 'shop') throw new NotFoundError(`project '${name}' does not exist`);
        return PROJECT;
      },
      publicUrl: () => base,
    });
    app = appWithoutAuth(routes);
    routes.register(app);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    const token = await tokens.token({ projectId: PROJECT.id, environment: 'production' });

    await Promise.all(
      PROTOCOLS.map(async (protocol) => {
        const port = await freePort();
        const child = spawn(process.execPath, [FIXTURE], {
          env: {
            PATH: process.env.PATH,
            PORT: String(port),
            OTEL_SERVICE_NAME: 'shop-api',
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
            ...otlpEnvironment({ publicUrl: base, token, releaseId: `R-${protocol.slice(5)}`, environment: 'production' }),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        services.set(protocol, { child, port });
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        await waitFor(() => out.includes('listening'), { what: `the ${protocol} service to listen` });
      }),
    );
    // Per service, one after the other (a loaded machine must not make the fast ones slow):
    // 20 fast requests, 1 slow one, 1 failure.
    for (const { port } of services.values()) {
      const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text());
      for (let i = 0; i < 20; i++) await get(`/items/${i}?ms=0`);
      await get(`/items/slow?ms=${SLOW_MS}`);
      await get('/fail');
    }
  });

  afterAll(async () => {
    for (const { child } of services.values()) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('counts every request by release and route, from both encodings', async () => {
    const rows = await waitFor(
      async () => {
        const { rows } = await api<{ rows: RouteLatencyRow[] }>('/route-latency');
        const total = rows.reduce((n, r) => n + r.count, 0);
        return total >= 44 && rows;
      },
      { what: '44 server spans from the two services' },
    );
    for (const version of ['R-json', 'R-protobuf']) {
      const items = rows.find((r) => r.version === version && r.route === '/items/:id');
      const fail = rows.find((r) => r.version === version && r.route === '/fail');
      expect(items).toMatchObject({ count: 21, errors: 0 });
      expect(items?.p50).toBeLessThan(SLOW_MS / 2);
      expect(items?.p99).toBeGreaterThanOrEqual(SLOW_MS * 0.98);
      expect(fail).toMatchObject({ count: 1, errors: 1 });
    }
  });

  it("links the slow requests from their heatmap cell to a waterfall with the SDK's spans", async () => {
    // The heatmap cell a 600 ms request falls in is labelled by its upper bound, ≤ 1 s.
    const le = LATENCY_BOUNDS_MS[latencyRow(SLOW_MS)];
    const { traces } = await waitFor(
      async () => {
        const answer = await api<{ traces: TraceSummary[] }>(`/traces?le=${le}&from=0`);
        return answer.traces.length >= 2 && answer;
      },
      { what: `the two slow traces in the ${SLOW_MS} ms row` },
    );
    expect(traces.every((t) => t.route === '/items/:id' && t.durationMs >= SLOW_MS && t.service === 'shop-api')).toBe(true);
    expect(new Set(traces.map((t) => t.version))).toEqual(new Set(['R-json', 'R-protobuf']));
    for (const summary of traces) {
      const { waterfall } = await waitFor(
        async () => {
          const answer = await api<{ waterfall: Waterfall }>(`/traces/${summary.traceId}`);
          return answer.waterfall.rows.length === 2 && answer;
        },
        { what: `both spans of trace ${summary.traceId}` },
      );
      expect(waterfall.rows.map((r) => [r.name, r.depth])).toEqual([
        ['GET /items/:id', 0],
        ['load item', 1],
      ]);
      expect(waterfall.rows[1]?.durationMs).toBeGreaterThanOrEqual(SLOW_MS * 0.98);
      expect(waterfall.rows[1]?.attributes['item.id']).toBe('slow');
    }
    const errors = await api<{ traces: TraceSummary[] }>('/traces?from=0&limit=500');
    expect(errors.traces.filter((t) => t.error).map((t) => t.route)).toEqual(['/fail', '/fail']);
  });

  it('refuses a trace export without the environment token', async () => {
    const wrong = await fetch(`${base}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer gto_bm9wZQ.forged' },
      body: '{"resourceSpans":[]}',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'OTLP_TOKEN_INVALID' } });
    const token = await tokens.token({ projectId: PROJECT.id, environment: 'production' });
    const gzip = await fetch(`${base}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${token}` },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(gzip.status).toBe(415);
    expect(await gzip.json()).toMatchObject({ error: { code: 'OTLP_UNSUPPORTED' } });
  });
});
