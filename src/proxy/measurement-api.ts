/**
 * The read side of a proxy's request metrics over HTTP, shared by the embedded proxy's control
 * socket (proxy-host.ts) and the in-cluster proxy's metrics port (cluster-proxy.ts), so the canary
 * analysis reads the same windows, roll-ups and Prometheus text from either:
 * - `GET /window?since=&until=&version=&pool=` → WindowStats
 * - `GET /rollups` → RollupBatch (reading does not consume)
 * - `POST /rollups/ack?through=` → `{ acknowledged }`
 * - `POST /rollups/drain` → Rollup[], read and acknowledged at once
 * - `GET /metrics` → Prometheus text
 */
import type { ServerResponse } from 'node:http';
import { InputError } from '../core/errors.ts';
import type { Pool, RequestMetrics } from './request-metrics.ts';

export function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function numberParam(q: URLSearchParams, name: string): number {
  const v = Number(q.get(name));
  if (q.get(name) === null || !Number.isFinite(v)) throw new InputError(`query parameter ${name} must be a number`);
  return v;
}

/** Answers `route` ("METHOD /path") when it is a measurement route; false when it is not one. */
export function answerMeasurement(metrics: RequestMetrics, route: string, q: URLSearchParams, res: ServerResponse): boolean {
  switch (route) {
    case 'GET /window': {
      const filter: { version?: string; pool?: Pool } = {};
      const version = q.get('version');
      const pool = q.get('pool');
      if (version !== null) filter.version = version;
      if (pool !== null) {
        if (pool !== 'stable' && pool !== 'canary') throw new InputError('query parameter pool must be stable or canary');
        filter.pool = pool;
      }
      send(res, 200, metrics.window(numberParam(q, 'since'), numberParam(q, 'until'), filter));
      return true;
    }
    case 'GET /rollups':
      send(res, 200, metrics.pendingRollups());
      return true;
    case 'POST /rollups/ack':
      send(res, 200, { acknowledged: metrics.ackRollups(numberParam(q, 'through')) });
      return true;
    case 'POST /rollups/drain':
      send(res, 200, metrics.drainRollups());
      return true;
    case 'GET /metrics':
      send(res, 200, metrics.prometheus(), 'text/plain; version=0.0.4');
      return true;
    default:
      return false;
  }
}
