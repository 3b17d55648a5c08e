/**
 * Forwarding to Loki. Grafana Loki is not installable on this machine (Debian's `loki` package is
 * an unrelated genetics program), so the receiver is a loopback HTTP server speaking Loki's push
 * API (`POST /loki/api/v1/push`, JSON: streams of labels with `[ns, line]` values), checking each
 * push against that schema, and able to be down or answer 503 — the port the forwarder talks to.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import { createMasker } from '../../../src/executor/index.ts';
import { RotatingLog } from '../../../src/runtime/rotating-log.ts';
import { instanceLogDir, LokiForwarder } from '../../../src/server/logs/index.ts';
import { freePort } from '../../support/net.ts';
import { waitFor } from '../../support/wait.ts';

interface Pushed {
  labels: Record<string, string>;
  ns: string;
  line: string;
}

/** Loki's push endpoint on loopback: `mode` decides the answer; accepted entries are kept. */
async function lokiReceiver(port: number) {
  const received: Pushed[] = [];
  let mode: 'ok' | 'unavailable' = 'ok';
  let pushes = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pushes++;
      if (req.method !== 'POST' || req.url !== '/loki/api/v1/push' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(404).end();
        return;
      }
      if (mode === 'unavailable') {
        res.writeHead(503).end('ingester unavailable');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        streams: { stream: Record<string, string>; values: [string, string][] }[];
      };
      for (const s of body.streams) {
        const valid =
          Object.values(s.stream).every((v) => typeof v === 'string' && v !== '') &&
          s.values.every(([ns, line]) => /^\d{19}$/.test(ns) && typeof line === 'string');
        if (!valid) {
          res.writeHead(400).end('invalid stream');
          return;
        }
        for (const [ns, line] of s.values) received.push({ labels: s.stream, ns, line });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received,
    pushes: () => pushes,
    setMode: (m: typeof mode) => {
      mode = m;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let dataDir: string;
const forwarders: LokiForwarder[] = [];
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gantry-loki-'));
});
afterEach(async () => {
  for (const f of forwarders.splice(0)) await f.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function instanceLog(instance: string): RotatingLog {
  return new RotatingLog({
    file: join(instanceLogDir(dataDir, 'P1', 'production', 'R7', instance), 'instance.log'),
    capBytes: 1 << 20,
    keep: Number.POSITIVE_INFINITY,
    masker: createMasker([]),
    now: Date.now,
  });
}

function forwarder(port: number, o: { maxQueueLines?: number } = {}): LokiForwarder {
  const f = new LokiForwarder({
    url: `http://127.0.0.1:${port}/loki/api/v1/push`,
    dataDir,
    clock: systemClock,
    projectName: async () => 'shop',
    releaseNumber: async () => 7,
    warn: () => undefined,
    flushMs: 50,
    retryMs: 50,
    pollMs: 20,
    discoverMs: 50,
    batchLines: 100,
    ...o,
  });
  forwarders.push(f);
  f.start();
  return f;
}

describe('forwarding service logs to Loki', () => {
  it('pushes every line with project, environment, release and instance labels, in batches', async () => {
    const port = await freePort();
    const loki = await lokiReceiver(port);
    try {
      const log = instanceLog('shop.production.r7.a');
      const f = forwarder(port);
      // Lines stored while it runs: 250 of them, more than two batches.
      for (let i = 0; i < 250; i++) log.lines(i % 2 ? 'e' : 'o', `line ${i}\n`);
      await waitFor(() => loki.received.length >= 250, { what: '250 lines in Loki', timeoutMs: 10_000 });
      expect(loki.received.map((r) => r.line)).toEqual(Array.from({ length: 250 }, (_, i) => `${i % 2 ? 'stderr' : 'stdout'} line ${i}`));
      expect(loki.received[0]?.labels).toEqual({
        project: 'shop',
        environment: 'production',
        release: '7',
        instance: 'shop.production.r7.a',
      });
      expect(loki.pushes()).toBeGreaterThanOrEqual(3);
      // Loki has the lines once its handler ran; the forwarder counts them when the response reaches it.
      await waitFor(() => f.status().forwarded === 250, { what: 'the forwarder to count the push answered', timeoutMs: 10_000 });
      expect(f.status()).toMatchObject({ forwarded: 250, dropped: 0, queued: 0 });
    } finally {
      await loki.close();
    }
  });

  it('retries while Loki is down or unavailable, loses nothing within the queue, and counts and reports what the full queue dropped', async () => {
    const port = await freePort();
    const log = instanceLog('shop.production.r7.b');
    const f = forwarder(port, { maxQueueLines: 50 });
    // Loki is not there: the lines wait, the service never notices (it writes files).
    for (let i = 0; i < 80; i++) log.lines('o', `queued ${i}\n`);
    await waitFor(() => f.status().lastError !== null && f.status().dropped === 30, {
      what: 'failed pushes and 30 dropped lines',
      timeoutMs: 10_000,
    });
    const loki = await lokiReceiver(port);
    try {
      loki.setMode('unavailable');
      await waitFor(() => loki.pushes() >= 2, { what: 'retries against a 503', timeoutMs: 10_000 });
      expect(loki.received).toHaveLength(0);
      loki.setMode('ok');
      await waitFor(() => loki.received.some((r) => r.line.startsWith('system')) && f.status().queued === 0, {
        what: 'the backlog in Loki',
        timeoutMs: 15_000,
      });
      const lines = loki.received.map((r) => r.line);
      // The newest 50 survived, in order; the 30 oldest were dropped and said so in the environment's stream.
      expect(lines.filter((l) => l.startsWith('stdout'))).toEqual(Array.from({ length: 50 }, (_, i) => `stdout queued ${i + 30}`));
      const note = loki.received.find((r) => r.line.startsWith('system'));
      expect(note?.line).toBe('system [gantry] 30 lines were not forwarded to Loki (the forwarding queue was full)');
      expect(note?.labels).toEqual({ project: 'shop', environment: 'production', instance: 'gantry' });
      expect(f.status()).toMatchObject({ forwarded: 50, dropped: 30, lastError: null });
    } finally {
      await loki.close();
    }
  });
});
