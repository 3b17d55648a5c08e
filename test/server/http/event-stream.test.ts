import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openEventStream, type EventStream } from '../../../src/server/http/event-stream.ts';

const servers: Server[] = [];
const clients: IncomingMessage[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real server whose every request becomes an event stream; resolves with the first stream and a real client on it. */
async function connect(o?: {
  heartbeatMs?: number;
  maxQueued?: number;
}): Promise<{ stream: EventStream; client: IncomingMessage; text: () => string }> {
  let resolveStream: (s: EventStream) => void = () => {};
  const streamReady = new Promise<EventStream>((resolve) => (resolveStream = resolve));
  const server = createServer((_req, res) => resolveStream(openEventStream(res, o)));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, resolve).on('error', reject);
  });
  clients.push(client);
  let text = '';
  client.setEncoding('utf8');
  client.on('data', (chunk: string) => (text += chunk));
  client.on('error', () => {});
  return { stream: await streamReady, client, text: () => text };
}

describe('openEventStream', () => {
  it('sends SSE headers and events a real client can read', async () => {
    const { stream, client, text } = await connect();
    expect(client.statusCode).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toBe('no-cache');
    expect(client.headers['x-accel-buffering']).toBe('no');

    stream.send('job', { id: 'build', line: 'two\nlines' }, 7);
    stream.send('run\nevent: injected', null);
    await vi.waitFor(() => expect(text()).toContain('data: null'), { timeout: 3000, interval: 10 });
    expect(text()).toBe('id: 7\nevent: job\ndata: {"id":"build","line":"two\\nlines"}\n\nevent: run event: injected\ndata: null\n\n');
  });

  it('sends heartbeat comments while idle', async () => {
    const { text } = await connect({ heartbeatMs: 30 });
    await vi.waitFor(() => expect(text()).toContain(': heartbeat\n\n'), { timeout: 3000, interval: 10 });
  });

  it('delivers a burst larger than the socket buffers in order by waiting for drain', async () => {
    const { stream, text } = await connect({ maxQueued: 10_000 });
    const payload = 'x'.repeat(1024);
    for (let i = 0; i < 5000; i++) stream.send('line', { i, payload });
    await vi.waitFor(() => expect(text()).toContain('"i":4999'), { timeout: 10_000, interval: 20 });
    const received = [...text().matchAll(/"i":(\d+)/g)].map((m) => Number(m[1]));
    expect(received).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(stream.closed).toBe(false);
  });

  it('close() during backpressure still delivers the queued events, then ends', async () => {
    const { stream, client, text } = await connect({ maxQueued: 10_000 });
    const gone = new Promise<void>((resolve) => client.on('close', resolve));
    const payload = 'z'.repeat(1024);
    for (let i = 0; i < 3000; i++) stream.send('line', { i, payload });
    stream.send('end', { status: 'success' });
    stream.close();
    expect(stream.closed).toBe(true);
    await gone;
    expect(client.complete).toBe(true);
    expect(text().split('event: line').length - 1).toBe(3000);
    expect(text().endsWith('event: end\ndata: {"status":"success"}\n\n')).toBe(true);
  });

  it('keeps up with a client that reads, and cuts off one that stops reading once the queue cap is hit', async () => {
    const chunk = 'y'.repeat(64 * 1024);
    /** Sends paced like a live log (one event per timer tick) until the stream closes or `limit` events are out. */
    const pump = async (stream: EventStream, limit: number): Promise<number> => {
      let sent = 0;
      while (!stream.closed && sent < limit) {
        stream.send('log', chunk);
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return sent;
    };

    const reader = await connect({ maxQueued: 8 });
    expect(await pump(reader.stream, 100)).toBe(100);
    await vi.waitFor(() => expect(reader.text().split('event: log').length - 1).toBe(100), { timeout: 5000, interval: 20 });
    expect(reader.stream.closed).toBe(false);

    const stalled = await connect({ maxQueued: 8 });
    stalled.client.pause();
    stalled.client.removeAllListeners('data');
    let clientGone = false;
    stalled.client.socket.on('close', () => (clientGone = true));
    let closedSeen = false;
    stalled.stream.onClose(() => (closedSeen = true));
    // Bounded: loopback buffers hold a few MB, far below 2000 × 64 KiB.
    const sent = await pump(stalled.stream, 2000);
    expect(stalled.stream.closed).toBe(true);
    expect(sent).toBeLessThan(2000);
    expect(closedSeen).toBe(true);
    // Once it reads again, the client finds the connection gone (not merely idle).
    stalled.client.resume();
    await vi.waitFor(() => expect(clientGone).toBe(true), { timeout: 5000, interval: 10 });
    stalled.stream.send('after', 1);
  });

  it('reports a client that went away through onClose', async () => {
    const { stream, client } = await connect();
    const closed = vi.fn();
    stream.onClose(closed);
    client.destroy();
    await vi.waitFor(() => expect(closed).toHaveBeenCalledTimes(1), { timeout: 3000, interval: 10 });
    expect(stream.closed).toBe(true);
    const late = vi.fn();
    stream.onClose(late);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('ends the response on close()', async () => {
    const { stream, client, text } = await connect();
    const ended = new Promise<void>((resolve) => client.on('end', resolve));
    stream.send('bye', 'done');
    stream.close();
    stream.close();
    await ended;
    expect(text()).toBe('event: bye\ndata: "done"\n\n');
  });
});
