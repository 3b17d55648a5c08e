/**
 * What the chaos benchmarks share: an in-process backend and TrafficProxy on loopback, a
 * keep-alive client that records each answer's status and latency, and percentiles. Everything
 * started here is closed by `stop()`.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChaosFaults, TrafficProxy } from '../src/proxy/index.ts';

export interface Answer {
  path: string;
  status: number;
  ms: number;
  /** When the answer arrived (epoch ms). */
  at: number;
}

export interface Rig {
  proxy: TrafficProxy;
  get(path: string): Promise<Answer>;
  stop(): Promise<void>;
}

/** A backend answering `ok` and a proxy routing to it, with a chaos source of draws (`random`). */
export async function startRig(random: () => number = Math.random): Promise<Rig> {
  const backend: Server = http.createServer((req, res) => {
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const proxy = new TrafficProxy({ environment: 'bench', port: 0, chaos: new ChaosFaults({ random }) });
  const { port } = await proxy.listen();
  proxy.setRoutes({
    upstreams: [{ id: 'i1', host: '127.0.0.1', port: (backend.address() as AddressInfo).port, pool: 'stable', version: 'r1' }],
    weights: { stable: 100, canary: 0 },
    match: [],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const get = (path: string): Promise<Answer> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ path, status: res.statusCode ?? 0, ms: performance.now() - t0, at: Date.now() }));
      });
      req.on('error', () => resolve({ path, status: 0, ms: performance.now() - t0, at: Date.now() }));
      req.end();
    });
  return {
    proxy,
    get,
    stop: async () => {
      agent.destroy();
      await proxy.close();
      backend.closeAllConnections();
      await new Promise<void>((r) => backend.close(() => r()));
    },
  };
}

/** Sends `paths` with `concurrency` requests in flight; answers in completion order. */
export async function sendAll(rig: Rig, paths: string[], concurrency = 16): Promise<Answer[]> {
  const out: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length) {
        const path = paths[next++] as string;
        out.push(await rig.get(path));
      }
    }),
  );
  return out;
}

export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export const round = (v: number, digits = 2): number => Number(v.toFixed(digits));
