import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { TrafficProxy, type Upstream } from '../../src/proxy/index.ts';
import { backend, call, deadPort, until, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startProxy(o: { connectTimeoutMs?: number } = {}): Promise<{ proxy: TrafficProxy; port: number; agent: Agent }> {
  const proxy = new TrafficProxy({ environment: 'test', port: 0, ...o });
  const { port } = await proxy.listen();
  const agent = new Agent({ keepAlive: true, maxSockets: 50 });
  cleanups.push(
    () => proxy.close(),
    () => agent.destroy(),
  );
  return { proxy, port, agent };
}

async function backends(...names: string[]): Promise<Backend[]> {
  const out = await Promise.all(names.map((n) => backend(n)));
  for (const b of out) cleanups.push(() => b.close());
  return out;
}

function up(id: string, port: number, pool: 'stable' | 'canary' = 'stable', version = pool === 'stable' ? 'v1' : 'v2'): Upstream {
  return { id, host: '127.0.0.1', port, pool, version };
}

describe('TrafficProxy forwarding', () => {
  it('reuses upstream connections, strips hop-by-hop headers both ways and adds X-Forwarded-*', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const b = await backend('b', (req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { connection: 'x-internal', 'x-internal': 'secret', 'x-app': 'yes', 'keep-alive': 'timeout=9' });
      res.end('ok');
    });
    cleanups.push(() => b.close());
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({ upstreams: [up('a', b.port)], weights: { stable: 100, canary: 0 }, match: [] });
    let last;
    for (let i = 0; i < 50; i++) {
      last = await call(port, {
        agent,
        headers: {
          connection: 'keep-alive, x-hop',
          'x-hop': '1',
          te: 'trailers',
          'keep-alive': 'timeout=5',
          'x-forwarded-for': '10.0.0.1',
          'x-user': 'u',
        },
      });
      expect(last.status).toBe(200);
    }
    expect(b.connections).toBe(1);
    const h = seen[0] ?? {};
    expect(h['x-hop']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['x-user']).toBe('u');
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${port}`);
    expect(h.host).toBe(`127.0.0.1:${port}`);
    expect(last?.headers['x-internal']).toBeUndefined();
    expect(last?.headers['x-app']).toBe('yes');
    expect(last?.headers['keep-alive']).not.toBe('timeout=9');
    expect(last?.body).toBe('ok');
  });

  it('splits 90/10 exactly over 1,000 requests, round robin inside a pool', async () => {
    const [s1, s2, c1] = await backends('s1', 's2', 'c1');
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({
      upstreams: [up('s1', s1!.port), up('s2', s2!.port), up('c1', c1!.port, 'canary')],
      weights: { stable: 90, canary: 10 },
      match: [],
    });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const r = await call(port, { agent });
      counts[r.body] = (counts[r.body] ?? 0) + 1;
    }
    expect(counts).toEqual({ s1: 450, s2: 450, c1: 100 });
    const w = proxy.metrics.window(Date.now() - 60_000, Date.now() + 1000, { pool: 'canary' });
    expect(w.requests).toBe(100);
    expect(proxy.metrics.window(Date.now() - 60_000, Date.now() + 1000, { version: 'v1' }).requests).toBe(900);
  });

  it('sends requests matching a header or cookie rule to the canary', async () => {
    const [s, c] = await backends('s', 'c');
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({
      upstreams: [up('s', s!.port), up('c', c!.port, 'canary')],
      weights: { stable: 100, canary: 0 },
      match: [
        { header: 'X-Canary', value: 'yes' },
        { cookie: 'beta', regex: '^(on|true)$' },
      ],
    });
    expect((await call(port, { agent })).body).toBe('s');
    expect((await call(port, { agent, headers: { 'x-canary': 'yes' } })).body).toBe('c');
    expect((await call(port, { agent, headers: { 'x-canary': 'no' } })).body).toBe('s');
    expect((await call(port, { agent, headers: { cookie: 'a=1; beta=on' } })).body).toBe('c');
    expect((await call(port, { agent, headers: { cookie: 'beta=off' } })).body).toBe('s');
  });

  it('streams request and response bodies without buffering them whole', async () => {
    let release!: () => void;
    const firstChunkSeen = new Promise<void>((r) => {
      release = r;
    });
    const b = await backend('b', (req, res) => {
      // Answer as soon as the first request bytes arrive, then echo the rest: only possible if neither side is buffered.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.once('data', (c: Buffer) => {
        release();
        res.write(c);
        req.pipe(res);
      });
    });
    cleanups.push(() => b.close());
    const { proxy, port } = await startProxy();
    proxy.setRoutes({ upstreams: [up('a', b.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const got: Buffer[] = [];
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' } });
    const response = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.on('data', (c: Buffer) => got.push(c));
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.write('first|');
    await firstChunkSeen;
    await until('the first chunk echoed back while the upload is still open', () => Buffer.concat(got).toString() === 'first|');
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    req.end(big);
    expect(await response).toBe(200);
    const all = Buffer.concat(got);
    expect(all.length).toBe(6 + big.length);
    expect(createHash('sha256').update(all.subarray(6)).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('relays a large Content-Length upload and download intact', async () => {
    const b = await backend('b', (req, res) => {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on('end', () => {
        const body = Buffer.alloc(n, 'y');
        res.writeHead(200, { 'content-length': body.length, 'x-sha': h.digest('hex') });
        res.end(body);
      });
    });
    cleanups.push(() => b.close());
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({ upstreams: [up('a', b.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const body = Buffer.alloc(5 * 1024 * 1024 + 7, 'z');
    const r = await call(port, { agent, method: 'PUT', body });
    expect(r.status).toBe(200);
    expect(r.headers['x-sha']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(r.body.length).toBe(body.length);
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection usable', async () => {
    const b = await backend('b', (req, res) => {
      if (req.url === '/204') {
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.url === '/304') {
        res.writeHead(304, { etag: '"x"' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': 5 });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    cleanups.push(() => b.close());
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({ upstreams: [up('a', b.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const head = await call(port, { agent, method: 'HEAD' });
    expect([head.status, head.headers['content-length'], head.body]).toEqual([200, '5', '']);
    expect((await call(port, { agent, path: '/204' })).status).toBe(204);
    expect((await call(port, { agent, path: '/304' })).status).toBe(304);
    expect((await call(port, { agent })).body).toBe('hello');
    expect(b.connections).toBe(1);
  });
});

describe('TrafficProxy failures', () => {
  it('retries idempotent requests on another upstream when the connection is refused, never POSTs', async () => {
    const [live] = await backends('live');
    const dead = await deadPort();
    const { proxy, port, agent } = await startProxy();
    proxy.setRoutes({ upstreams: [up('dead', dead), up('live', live!.port)], weights: { stable: 100, canary: 0 }, match: [] });
    for (let i = 0; i < 10; i++) expect((await call(port, { agent })).body).toBe('live');
    const posts = await Promise.all([0, 1].map(() => call(port, { agent, method: 'POST', body: 'x' })));
    expect(posts.map((p) => p.status).sort()).toEqual([200, 502]);
    const failed = posts.find((p) => p.status === 502);
    expect(JSON.parse(failed?.body ?? '{}').error.code).toBe('PROXY_UPSTREAM_FAILED');
    expect(proxy.metrics.window(Date.now() - 60_000, Date.now() + 1000).connectionErrors).toBeGreaterThanOrEqual(6);
  });

  it('retries a GET reset before any response byte, but not one reset after the response started', async () => {
    let resets = 0;
    const reset = await backend('reset', (req) => {
      resets++;
      req.socket.destroy();
    });
    let partials = 0;
    const partial = await backend('partial', (_req, res) => {
      partials++;
      res.writeHead(200, { 'content-length': 100 });
      res.write('half');
      setImmediate(() => res.socket?.destroy());
    });
    const [good] = await backends('good');
    cleanups.push(
      () => reset.close(),
      () => partial.close(),
    );
    const { proxy, port } = await startProxy();
    proxy.setRoutes({ upstreams: [up('reset', reset.port), up('good', good!.port)], weights: { stable: 100, canary: 0 }, match: [] });
    for (let i = 0; i < 4; i++) expect((await call(port)).body).toBe('good');
    expect(resets).toBe(2);

    proxy.setRoutes({ upstreams: [up('partial', partial.port), up('good', good!.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const before = good!.requests;
    const outcomes = await Promise.all(
      [0, 1].map(() =>
        call(port).then(
          (r) => r.body,
          (e: Error) => `error:${e.message}`,
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'good')).toHaveLength(1);
    expect(outcomes.filter((o) => o.startsWith('error'))).toHaveLength(1);
    expect(partials).toBe(1);
    expect(good!.requests - before).toBe(1);
  });

  it('answers 502 when no upstream is reachable and 503 when the table is empty', async () => {
    const { proxy, port } = await startProxy();
    const empty = await call(port);
    expect(empty.status).toBe(503);
    expect(JSON.parse(empty.body).error.code).toBe('PROXY_NO_UPSTREAM');
    proxy.setRoutes({
      upstreams: [up('d1', await deadPort()), up('d2', await deadPort(), 'canary')],
      weights: { stable: 50, canary: 50 },
      match: [],
    });
    const r = await call(port);
    expect(r.status).toBe(502);
    expect(r.headers['x-gantry-proxy-error']).toBe('PROXY_UPSTREAM_FAILED');
    expect(JSON.parse(r.body).error.message).toMatch(/ECONNREFUSED/);
  });

  it('keeps the last table when an invalid one is offered', async () => {
    const [a] = await backends('a');
    const { proxy, port } = await startProxy();
    proxy.setRoutes({ upstreams: [up('a', a!.port)], weights: { stable: 100, canary: 0 }, match: [] });
    expect(() =>
      proxy.setRoutes({ upstreams: [up('a', 0)], weights: { stable: 50, canary: 10 }, match: [{ header: 'x', regex: '(' }] }),
    ).toThrow(InputError);
    expect((await call(port)).body).toBe('a');
  });
});

describe('TrafficProxy draining and pool swaps', () => {
  it('lets an in-flight request to a removed upstream finish and sends new ones elsewhere', async () => {
    let finishSlow!: () => void;
    const slowStarted = new Promise<void>((started) => {
      void backend('slow', (_req, res) => {
        started();
        finishSlow = () => res.end('slow done');
      }).then((b) => {
        slow = b;
        cleanups.push(() => b.close());
      });
    });
    let slow: Backend | undefined;
    await until('slow backend up', () => slow !== undefined);
    const [other] = await backends('other');
    const { proxy, port } = await startProxy();
    proxy.setRoutes({ upstreams: [up('slow', slow!.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const inFlight = call(port);
    await slowStarted;
    proxy.setRoutes({ upstreams: [up('other', other!.port, 'stable', 'v2')], weights: { stable: 100, canary: 0 }, match: [] });
    for (let i = 0; i < 5; i++) expect((await call(port)).body).toBe('other');
    expect(await proxy.drained('slow', 50)).toBe(false);
    const drained = proxy.drained('slow', 5000);
    finishSlow();
    const r = await inFlight;
    expect([r.status, r.body]).toEqual([200, 'slow done']);
    expect(await drained).toBe(true);
    expect(slow!.requests).toBe(1);
  });

  it('fails no request while weights change and upstreams are replaced 20 times under load', async () => {
    const bs = await backends('b0', 'b1', 'b2', 'b3', 'b4', 'b5');
    const { proxy, port, agent } = await startProxy();
    const table = (k: number) => ({
      upstreams: [
        up(`s${k % 6}`, bs[k % 6]!.port, 'stable', `v${k}`),
        up(`s${(k + 1) % 6}`, bs[(k + 1) % 6]!.port, 'stable', `v${k}`),
        up(`c${(k + 2) % 6}`, bs[(k + 2) % 6]!.port, 'canary', `v${k + 1}`),
      ],
      weights: { stable: 100 - ((k * 5) % 100), canary: (k * 5) % 100 },
      match: [],
    });
    proxy.setRoutes(table(0));
    let sent = 0;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (sent < 2000) {
        sent++;
        try {
          const r = await call(port, { agent, method: sent % 5 === 0 ? 'POST' : 'GET', body: sent % 5 === 0 ? 'payload' : undefined });
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status} ${r.body}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const swaps = (async () => {
      for (let k = 1; k <= 20; k++) {
        await until(`request ${k * 90}`, () => sent >= k * 90, 20_000);
        proxy.setRoutes(table(k));
      }
    })();
    await Promise.all([...Array.from({ length: 16 }, worker), swaps]);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(2000);
  });

  it('passes a WebSocket upgrade through and echoes over the socket', async () => {
    const b = await backend('ws');
    cleanups.push(() => b.close());
    b.server.on('upgrade', (req, socket) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Key: ${String(req.headers['sec-websocket-key'])}\r\n\r\n`,
      );
      socket.on('data', (d: Buffer) => socket.write(d));
    });
    const { proxy, port } = await startProxy();
    proxy.setRoutes({ upstreams: [up('ws', b.port)], weights: { stable: 100, canary: 0 }, match: [] });
    const s = connect({ host: '127.0.0.1', port });
    cleanups.push(() => {
      s.destroy();
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    s.write(
      'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await until('101', () => got.includes('\r\n\r\n'));
    expect(got).toMatch(/^HTTP\/1\.1 101/);
    expect(got).toContain('X-Key: abc');
    got = '';
    s.write('ping-frame');
    await until('echo', () => got === 'ping-frame');
    expect(await proxy.drained('ws', 20)).toBe(false);
    s.destroy();
    expect(await proxy.drained('ws', 2000)).toBe(true);
  });
});
