/**
 * The proxy's own HTTP/1.1 client side over raw sockets: what node:http's server used to do for
 * it (refusing ambiguous requests, pipelining, HTTP/1.0, 100-continue) and the response framing.
 */
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TrafficProxy } from '../../src/proxy/index.ts';
import { backend, echoUpgrades, rawClient, until, type Backend } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyTo(port: number): Promise<number> {
  const proxy = new TrafficProxy({ environment: 'test', port: 0 });
  const r = await proxy.listen();
  cleanups.push(() => proxy.close());
  proxy.setRoutes({
    upstreams: [{ id: 'a', host: '127.0.0.1', port, pool: 'stable', version: 'v1' }],
    weights: { stable: 100, canary: 0 },
    match: [],
  });
  return r.port;
}

async function withBackend(handler?: Parameters<typeof backend>[1]): Promise<{ b: Backend; port: number }> {
  const b = await backend('ok', handler);
  cleanups.push(() => b.close());
  return { b, port: await proxyTo(b.port) };
}

/** A raw client, destroyed after the test. */
function raw(port: number): ReturnType<typeof rawClient> {
  const c = rawClient(port);
  cleanups.push(() => {
    c.s.destroy();
  });
  return c;
}

async function refusedWith400(port: number, request: string): Promise<string> {
  const c = raw(port);
  c.s.write(request);
  await until('the connection closed', c.closed);
  expect(c.got()).toMatch(/^HTTP\/1\.1 400 /);
  return c.got();
}

describe('proxy client side', () => {
  it('answers 400 and closes on ambiguous framing; the upstream never sees those requests', async () => {
    const { b, port } = await withBackend();
    await refusedWith400(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await refusedWith400(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc');
    await refusedWith400(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n');
    await refusedWith400(port, 'GET / HTTP/1.1\nHost: x\n\n');
    await refusedWith400(port, 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n');
    expect(b.requests).toBe(0);
  });

  it('answers 400 and closes when a chunk size is invalid', async () => {
    const { port } = await withBackend((req, res) => {
      req.resume();
      req.on('end', () => res.end('late'));
    });
    const text = await refusedWith400(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    expect(text).not.toContain('late');
  });

  it('answers pipelined requests in order on one connection', async () => {
    const { b, port } = await withBackend((req, res) => {
      req.resume();
      req.on('end', () => res.end(`${req.method} ${req.url}`));
    });
    const c = raw(port);
    c.s.write(
      'GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /three HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await until('three answers', () => c.got().split('HTTP/1.1 200').length === 4);
    const bodies = [...c.got().matchAll(/\r\n\r\n([A-Z]+ \/[a-z]+)/g)].map((m) => m[1]);
    expect(bodies).toEqual(['GET /one', 'POST /two', 'GET /three']);
    expect(b.connections).toBe(1);
    expect(c.closed()).toBe(false);
    // A head that arrives in pieces is parsed once it is whole.
    for (const piece of ['GET /fo', 'ur HTTP/1.1\r\nHo', 'st: x\r\n', '\r\n']) {
      c.s.write(piece);
      await new Promise<void>((r) => setImmediate(r));
    }
    await until('the fourth answer', () => c.got().includes('GET /four'));
    expect(b.connections).toBe(1);
  });

  it('ends a chunked upstream answer by closing for an HTTP/1.0 client, and sends 100 Continue when asked', async () => {
    const { port } = await withBackend((req, res) => {
      req.resume();
      res.write('part1-');
      req.on('end', () => res.end('part2'));
    });
    const old = raw(port);
    old.s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    await until('the HTTP/1.0 answer ends with the connection', old.closed);
    expect(old.got()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(old.got()).not.toMatch(/transfer-encoding/i);
    expect(old.got().endsWith('\r\n\r\npart1-part2')).toBe(true);

    const c = raw(port);
    c.s.write('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n');
    await until('100 Continue', () => c.got().startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    c.s.write('hi');
    await until('the final answer', () => c.got().endsWith('0\r\n\r\n'));
    expect(c.got()).toMatch(/HTTP\/1\.1 200 OK\r\n[\s\S]*Transfer-Encoding: chunked\r\n/);
  });

  /** A proxy in front of a raw upstream that answers every request with `answer` (or the next of `answer`, in turn). */
  async function rawUpstream(answer: string | string[]): Promise<number> {
    let next = 0;
    const up: Server = createNetServer((s) => {
      s.on('data', () => s.write(typeof answer === 'string' ? answer : (answer[next++ % answer.length] as string)));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          up.close(() => r());
        }),
    );
    return proxyTo((up.address() as AddressInfo).port);
  }

  async function get(port: number, done: (got: string) => boolean): Promise<string> {
    const c = raw(port);
    c.s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('an answer', () => done(c.got()) || c.closed());
    return c.got();
  }

  it('answers 502 instead of relaying a response head with control characters or bare CR/LF', async () => {
    const lines = [
      'X-Evil: a\x01b\r\n',
      'X-Evil: a\nSet-Cookie: injected=1\r\n',
      'X-Evil: a\rb\r\n',
      'X-Evil: a\x7fb\r\n',
      'X-Evil: a\r\n folded\r\n',
      'X Evil: a\r\n',
      'X-Evil\r\n',
      ': a\r\nX-Evil: a\r\n',
      'X-Evil\x01: a\r\n',
    ];
    for (const evil of lines) {
      const port = await rawUpstream(`HTTP/1.1 200 OK\r\n${evil}Content-Length: 2\r\n\r\nok`);
      const got = await get(port, (g) => g.includes('}\n'));
      expect(got, JSON.stringify(evil)).toMatch(/^HTTP\/1\.1 502 /);
      expect(got).toContain('PROXY_UPSTREAM_FAILED');
      expect(got).not.toMatch(/X-Evil|injected/);
    }
  });

  it('answers 502 for a status line with control characters and for a last header line ending in a bare CR', async () => {
    for (const head of [
      'HTTP/1.1 200 O\x01K\r\nContent-Length: 2',
      'HTTP/1.1 200 O\x7fK\r\nContent-Length: 2',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r',
    ]) {
      const port = await rawUpstream(`${head}\r\n\r\nok`);
      const got = await get(port, (g) => g.includes('}\n'));
      expect(got, JSON.stringify(head)).toMatch(/^HTTP\/1\.1 502 /);
    }
  });

  it('answers 502 for a status code that is not three digits followed by a space or the line end', async () => {
    // Each was relayed before, as another status: 1:0 as 200 (the digits were summed unchecked),
    // 2000 as 200, 200X as 200 with the reason phrase read from after the X.
    for (const line of ['HTTP/1.1 1:0 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 200XOK', 'HTTP/1.1 0200 OK', 'HTTP/1.1 2 0 OK']) {
      const port = await rawUpstream(`${line}\r\nContent-Length: 2\r\n\r\nok`);
      const got = await get(port, (g) => g.includes('}\n') || g.endsWith('\r\n\r\nok'));
      expect(got, JSON.stringify(line)).toMatch(/^HTTP\/1\.1 502 /);
    }
  });

  it('relays each status line as its upstream sent it, whatever the previous one was', async () => {
    const answers: [string, string][] = [
      ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'],
      ['HTTP/1.1 200 Fine', 'HTTP/1.1 200 Fine'],
      ['HTTP/1.1 404 Not Found', 'HTTP/1.1 404 Not Found'],
      ['HTTP/1.1 404 OK', 'HTTP/1.1 404 OK'],
      ['HTTP/1.1 200 ', 'HTTP/1.1 200 OK'],
      ['HTTP/1.1 201', 'HTTP/1.1 201 Created'],
      ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'],
      ['HTTP/1.1 200 O\x01K', 'HTTP/1.1 502 Bad Gateway'],
      ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'],
    ];
    const port = await rawUpstream(answers.map(([line], i) => `${line}\r\nContent-Length: ${i + 1}\r\n\r\n${'b'.repeat(i + 1)}`));
    for (const [i, [, relayed]] of answers.entries()) {
      const got = await get(port, (g) => g.includes('}\n') || g.endsWith(`\r\n\r\n${'b'.repeat(i + 1)}`));
      expect(got.slice(0, got.indexOf('\r\n')), `answer ${i}`).toBe(relayed);
      if (!relayed.includes('502')) expect(got.endsWith(`\r\n\r\n${'b'.repeat(i + 1)}`)).toBe(true);
    }
  });

  it('keeps an HTTP/1.0 upstream connection only when the upstream said keep-alive, and an HTTP/1.1 one unless it said close', async () => {
    const cases: [string, number][] = [
      ['HTTP/1.0 200 OK\r\nConnection: Keep-Alive', 1],
      ['HTTP/1.0 200 OK\r\nConnection:\t keep-alive \t', 1],
      ['HTTP/1.0 200 OK', 3],
      ['HTTP/1.0 200 OK\r\nConnection: keep-alive, close', 3],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alive', 1],
      ['HTTP/1.1 200 OK\r\nConnection: Close', 3],
      ['HTTP/1.1 200 OK\r\nConnection: keep-alivex', 1],
    ];
    for (const [head, connections] of cases) {
      let opened = 0;
      const up: Server = createNetServer((s) => {
        opened++;
        s.on('data', () => s.write(`${head}\r\nContent-Length: 2\r\n\r\nok`));
        s.on('error', () => {});
      });
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => up.close(() => r())));
      const port = await proxyTo((up.address() as AddressInfo).port);
      for (let i = 0; i < 3; i++) expect(await get(port, (g) => g.endsWith('ok'))).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(opened, head).toBe(connections);
    }
  });

  it('relays other header lines as sent and drops Content-Length when Transfer-Encoding is present', async () => {
    const port = await rawUpstream(
      'HTTP/1.1 200 OK\r\nX-One:  spaced \r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nX-Two: 2\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    const got = await get(port, (g) => g.endsWith('0\r\n\r\n'));
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toContain('X-One:  spaced \r\n');
    expect(got).toContain('X-Two: 2\r\n');
    expect(got).not.toMatch(/content-length/i);
    expect(got.endsWith('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n3\r\nabc\r\n0\r\n\r\n')).toBe(true);
  });

  it('tunnels an Upgrade and keeps the bytes the client sends before the upstream answered', async () => {
    const { b, port } = await withBackend();
    echoUpgrades(b);
    const c = raw(port);
    c.s.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
    c.s.write('early|');
    await until('the early bytes echoed', () => c.got().endsWith('early|'));
    expect(c.got()).toMatch(/^HTTP\/1\.1 101 /);
    c.s.write('late');
    await until('the late bytes echoed', () => c.got().endsWith('early|late'));
  });

  it('an upgrade answered 101 before its body ended forwards the rest of the body, then tunnels what follows', async () => {
    const { b, port } = await withBackend();
    // node:http with an upgrade listener answers at the head and reads the body as the new protocol.
    echoUpgrades(b);
    const c = raw(port);
    c.s.write('POST /up HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\nContent-Length: 5\r\n\r\nhe');
    await until('the 101 and the first body bytes echoed', () => c.got().endsWith('\r\n\r\nhe'));
    expect(c.got()).toMatch(/^HTTP\/1\.1 101 /);
    c.s.write('lloraw|');
    await until('the rest of the body and the raw bytes echoed', () => c.got().endsWith('\r\n\r\nhelloraw|'));
  });
});
