/**
 * Real backends for the proxy tests: node:http servers on 127.0.0.1:0 that record what they saw
 * (connections, requests, headers), and a keep-alive client built on node:http (fetch forbids the
 * hop-by-hop headers these tests send).
 */
import {
  type Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { freePort } from '../support/net.ts';

export interface Backend {
  name: string;
  port: number;
  server: Server;
  connections: number;
  requests: number;
  lastHeaders: IncomingHttpHeaders;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, b: Backend) => void;

/** A backend answering `<name>` (or what `handler` does). */
export async function backend(name: string, handler?: Handler): Promise<Backend> {
  const sockets = new Set<Socket>();
  const b: Backend = {
    name,
    port: 0,
    connections: 0,
    requests: 0,
    lastHeaders: {},
    server: createServer((req, res) => {
      b.requests++;
      b.lastHeaders = req.headers;
      if (handler) {
        handler(req, res, b);
        return;
      }
      req.resume();
      req.on('end', () => res.end(name));
    }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        b.server.close(() => r());
      }),
  };
  b.server.on('connection', (s: Socket) => {
    b.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

/** A port that refuses connections (bound, then closed). */
export function deadPort(): Promise<number> {
  return freePort();
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request through a keep-alive agent; resolves with the whole answer. */
export function call(
  port: number,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers, agent: o.agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Polls until `check()` is true (never a fixed sleep). */
export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw client connection: what it received so far (latin1) and whether it is closed. The caller destroys `s`. */
export function rawClient(port: number): { s: Socket; got: () => string; closed: () => boolean } {
  const s = connect({ host: '127.0.0.1', port, noDelay: true });
  let got = '';
  let closed = false;
  s.on('data', (d: Buffer) => {
    got += d.toString('latin1');
  });
  s.on('error', () => {});
  s.on('close', () => {
    closed = true;
  });
  return { s, got: () => got, closed: () => closed };
}

/** Makes `b` answer Upgrade requests with 101, then echo every byte (the head's leftovers first). */
export function echoUpgrades(b: Backend): void {
  b.server.on('upgrade', (req: IncomingMessage, socket: Socket, first: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\n\r\n`);
    if (first.length > 0) socket.write(first);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('error', () => {});
  });
}
